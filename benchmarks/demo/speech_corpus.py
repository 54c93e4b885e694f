"""Write a synthetic corpus in the Kathbath layout (DESIGN.md), for the demo and the tests.

Same folders, file names and text formats as Kathbath after IndicSUPERB's conversion,
invented content: speakers, words and keywords come from `speech_synth`. Train, valid and
test_known share speakers; test has unseen speakers (Kathbath's test-unknown). Transcript
files name the original `.m4a` files, as Kathbath's do; readers match on the file stem.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polyglue.demo.speech_synth import Language, Speaker, _rng, random_text, speak

ALPHABETS = {
    "hindi": "कगतनमरसल",
    "tamil": "கசடதநமரல",
    "telugu": "కగచతనమరల",
    "bengali": "কগতনমরসল",
}
KEYWORDS = ("kamala", "tiru", "selvi")


@dataclass(frozen=True)
class CorpusSize:
    train_speakers: int = 3
    train_per_speaker: int = 3
    valid_per_speaker: int = 2
    test_known_per_speaker: int = 2
    test_speakers: int = 2
    test_per_speaker: int = 2
    keywords: int = 3
    ks_train_per_keyword: int = 4
    ks_eval_per_keyword: int = 2
    qbe_queries_per_split: int = 2
    qbe_docs: int = 6
    words: tuple[int, int] = (1, 2)
    train_words: tuple[int, int] | None = None
    """Words per training utterance when they differ (longer ones pass IndicSUPERB ASV's 2 s minimum)."""


def _write(path: Path, audio: np.ndarray) -> None:
    from polyglue.speech.audio import write_wav

    write_wav(path, audio)


def _speakers(lang_index: int, count: int, offset: int, seed: int) -> list[Speaker]:
    out = []
    for k in range(count):
        sid = f"{lang_index + 1}{offset + k:02d}"
        out.append(Speaker.make(sid, "mf"[k % 2], seed))
    return out


def write_kathbath_corpus(root: Path, languages: tuple[str, ...] = ("hindi", "tamil"), *, size: CorpusSize = CorpusSize(), seed: int = 0,
                          tasks: tuple[str, ...] = ("utterances", "trials", "ks", "qbe")) -> Path:
    """Write `root/<language>/<split>/...`, `root/meta_data/`, `root/ks/`, `root/qbe/`; returns `root`."""
    root = Path(root)
    utt_counter = itertools.count(844424930000000 + 1000 * seed)
    for lang_index, folder in enumerate(languages):
        alphabet = ALPHABETS[folder]
        language = Language.make(folder, alphabet, seed)
        known = _speakers(lang_index, size.train_speakers, 0, seed)
        unknown = _speakers(lang_index, size.test_speakers, 50, seed)
        plan = {
            "train": [(s, size.train_per_speaker) for s in known],
            "valid": [(s, size.valid_per_speaker) for s in known],
            "test_known": [(s, size.test_known_per_speaker) for s in known],
            "test": [(s, size.test_per_speaker) for s in unknown],
        }
        if "utterances" not in tasks:
            continue
        for split, speakers in plan.items():
            rng = _rng("utterances", folder, split, seed)
            lines, written = [], []
            for speaker, count in speakers:
                for _ in range(count):
                    words = size.train_words if split == "train" and size.train_words else size.words
                    text = random_text(alphabet, rng, words=words)
                    name = f"{next(utt_counter)}-{speaker.id}-{speaker.gender}"
                    rel = Path(folder) / split / "audio" / speaker.id / f"{name}.wav"
                    _write(root / rel, speak(text, speaker, language, rng))
                    lines.append(f"{name}.m4a\t{text}")
                    written.append((rel, speaker.id))
            (root / folder / split / "transcription.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
            if "trials" in tasks and split != "train":
                trials = [f"{int(a[1] == b[1])}\t{a[0].as_posix()}\t{b[0].as_posix()}" for a, b in itertools.combinations(written, 2)]
                meta = root / "meta_data" / folder / f"{split}_data.txt"
                meta.parent.mkdir(parents=True, exist_ok=True)
                meta.write_text("\n".join(trials) + "\n", encoding="utf-8")
    first = languages[0]
    language = Language.make(first, ALPHABETS[first], seed)
    if "ks" in tasks:
        _write_keywords(root, language, size, seed)
    if "qbe" in tasks:
        _write_qbe(root, language, size, seed)
    return root


def _write_keywords(root: Path, language: Language, size: CorpusSize, seed: int) -> None:
    alphabet = list(language.formants)
    rng = _rng("keywords", seed)
    texts = {kw: "".join(alphabet[(i * 3 + j) % len(alphabet)] for j in range(3)) for i, kw in enumerate(KEYWORDS[: size.keywords])}
    counts = {"train": size.ks_train_per_keyword, "valid": size.ks_eval_per_keyword, "test": size.ks_eval_per_keyword}
    for split, count in counts.items():
        for kw, text in texts.items():
            for k in range(count):
                speaker = Speaker.make(f"ks{split}{kw}{k}", "mf"[k % 2], seed)
                _write(root / "ks" / split / kw / f"{kw}_{k:03d}.wav", speak(text, speaker, language, rng))


def _write_qbe(root: Path, language: Language, size: CorpusSize, seed: int) -> None:
    """Queries are spoken terms; a document holds a term (another speaker says it) or not."""
    alphabet = list(language.formants)
    rng = _rng("qbe", seed)
    n_terms = 2 * size.qbe_queries_per_split
    terms = ["".join(alphabet[(i * 2 + j * 3) % len(alphabet)] for j in range(4)) for i in range(n_terms)]
    lines = []
    for i, term in enumerate(terms):
        split = "valid" if i % 2 == 0 else "test"
        qid = f"query_{i:03d}"
        _write(root / "qbe" / "queries" / f"{qid}.wav", speak(term, Speaker.make(f"q{i}", "mf"[i % 2], seed), language, rng))
        for d in range(size.qbe_docs):
            holds = (d % n_terms) == i
            lines.append((qid, f"doc_{d:03d}", int(holds), split))
    for d in range(size.qbe_docs):
        words = random_text("".join(alphabet), rng, words=(1, 2)).split()
        words.insert(int(rng.integers(0, len(words) + 1)), terms[d % n_terms])
        _write(root / "qbe" / "docs" / f"doc_{d:03d}.wav", speak(" ".join(words), Speaker.make(f"d{d}", "fm"[d % 2], seed), language, rng))
    (root / "qbe" / "ground_truth.tsv").write_text("".join(f"{q}\t{d}\t{t}\t{s}\n" for q, d, t, s in lines), encoding="utf-8")
