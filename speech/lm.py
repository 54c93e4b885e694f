"""CTC beam search with a KenLM word n-gram, as the IndicSUPERB/IndicWav2Vec ASR evaluation decodes.

The paper's ASR numbers are decoded greedily and with a KenLM model: IndicWav2Vec
`w2v_inference/scripts/infer_auto.sh` runs fairseq `infer.py --w2l-decoder kenlm --lexicon
lexicon.lst --lm-weight W --word-score S --sil-weight 0 --beam B`, i.e. flashlight's lexicon
decoder over the CTC log-probabilities (fairseq `examples/speech_recognition/w2l_decoder.py`,
`W2lKenLMDecoder`), with W and S tuned per language in `paper_results.sh` and B 1024. This
module drives the same decoder (`flashlight-text`, the optional extra `lm`, which bundles
KenLM): a trie of the lexicon's spellings (each word's characters and the word boundary, as
`lm_training/utils/lexicon_corpus.py` writes `lexicon.lst`) scored by the LM's unigram
probability and smeared with MAX, the space character as fairseq's `|` silence token, blank =
id 0, unknown words impossible (fairseq's `--unk-weight` default −inf), beam threshold 25
(fairseq's `--beam-threshold` default).

The user supplies the LM (ARPA text or KenLM binary, `protocol.lm_path`) and optionally the
lexicon (`protocol.lm_lexicon`, `lexicon.lst` format: `word<TAB>c h a r |`); without one the
words of an ARPA file's 1-gram section are the lexicon. Words with a character outside the
language's training vocabulary cannot be spelled and are left out (counted in `skipped_words`).

A file that cannot be read fails at planning (`check_lm_file`, a header check that reads a few
bytes) and again when the runner loads it before any training (`KenLMDecoder`), with one line
naming the file, so nothing already finished is lost.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import numpy as np

from polyglue.errors import UserError

#: A KenLM binary starts with this (KenLM `lm/binary_format.cc`).
KENLM_BINARY_MAGIC = b"mmap lm http://kheafield.com/code"
INSTALL_HINT = "pip install 'polyglue[lm]' (flashlight-text, which bundles KenLM)"
#: fairseq `infer.py` defaults for the options IndicWav2Vec's scripts do not set.
BEAM_THRESHOLD = 25.0
SIL_WEIGHT = 0.0
UNK_WEIGHT = float("-inf")


def _is_arpa(head: bytes) -> bool:
    for line in head.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(b"#"):
            continue
        return stripped == b"\\data\\"
    return False


def check_lm_file(path: str | Path, lexicon: str | Path | None = None) -> Path:
    """The LM file as an absolute path, or `UserError` naming it: missing, unreadable, neither ARPA nor KenLM binary.

    Reads only the start of the file, so planning stays fast for multi-gigabyte models. A binary
    carries no word list, so it needs a lexicon file.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise UserError(f"{file}: protocol.lm_path: no such language-model file")
    try:
        with file.open("rb") as handle:
            head = handle.read(4096)
    except OSError as err:
        raise UserError(f"{file}: protocol.lm_path: cannot read the language model ({err.strerror or err})") from None
    binary = head.startswith(KENLM_BINARY_MAGIC)
    if not binary and not _is_arpa(head):
        raise UserError(f"{file}: protocol.lm_path: not an ARPA file (no \\data\\ header) or a KenLM binary")
    if lexicon is not None:
        lex = Path(lexicon).expanduser()
        if not lex.is_file():
            raise UserError(f"{lex}: protocol.lm_lexicon: no such lexicon file")
    elif binary:
        raise UserError(f"{file}: protocol.lm_path: a KenLM binary has no word list; give protocol.lm_lexicon (lexicon.lst: word<TAB>c h a r |)")
    return file.resolve()


def files_sha256(*paths: str | Path | None) -> str:
    """Content hash of the LM (and lexicon): it goes into the unit key, so a retrained LM at the same path makes new units.

    Hashed once per process per file version (path, size, mtime): planning asks once per encoder.
    """
    import hashlib

    parts = [_file_sha256(str(Path(p).resolve()), *_version(Path(p))) for p in paths if p is not None]
    return parts[0] if len(parts) == 1 else hashlib.sha256("".join(parts).encode()).hexdigest()


def _version(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=16)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    from polyglue.hashing import file_sha256

    return file_sha256(Path(path))


def read_lexicon(lm_path: Path, lexicon: Path | None) -> list[str]:
    """The decoder's words: the lexicon file's first column, else the ARPA 1-grams (without <s>, </s>, <unk>)."""
    words: list[str] = []
    if lexicon is not None:
        with lexicon.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                parts = line.rstrip("\n").split("\t")
                if not parts[0].strip():
                    continue
                if len(parts) < 2:
                    raise UserError(f"{lexicon}:{number}: protocol.lm_lexicon: expected 'word<TAB>spelling'")
                words.append(parts[0].strip())
        return list(dict.fromkeys(words))
    section = False
    with lm_path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.strip()
            if line == "\\1-grams:":
                section = True
            elif section and (not line or line.startswith("\\")):
                break
            elif section:
                parts = line.split("\t")
                if len(parts) >= 2 and parts[1] not in ("<s>", "</s>", "<unk>"):
                    words.append(parts[1])
    return list(dict.fromkeys(words))


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 for a native call (Python's `sys.stderr` redirection does not reach C++)."""
    import os
    import sys
    import tempfile

    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # pytest's capture or an embedded interpreter: nothing to silence
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)


class KenLMModel:
    """The user's KenLM model and the decoder's words, loaded once per unit (before any training)."""

    def __init__(self, lm_path: str | Path, lexicon: str | Path | None = None):
        file = check_lm_file(lm_path, lexicon)
        lex = Path(lexicon).expanduser().resolve() if lexicon is not None else None
        try:
            from flashlight.lib.text.decoder.kenlm import KenLM
            from flashlight.lib.text.dictionary import Dictionary
        except ImportError:
            raise UserError(f"{file}: decoding with a language model needs the `lm` extra: {INSTALL_HINT}") from None
        self.words = read_lexicon(file, lex)
        self.word_dict = Dictionary()
        for word in self.words:
            self.word_dict.add_entry(word)
        self.word_dict.add_entry("<unk>")
        try:
            with _quiet_stderr():  # KenLM's progress bar and "build a binary" advice, written by C++ to fd 2
                self.lm = KenLM(str(file), self.word_dict)
        except Exception as err:  # flashlight raises a plain RuntimeError with KenLM's message
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(f"{file}: protocol.lm_path: KenLM cannot load it ({first.split(' threw ')[-1]})") from None
        self.path = file
        self.lexicon = lex


class KenLMDecoder:
    """flashlight's lexicon beam search over one language's characters (CTC blank = id 0) with a KenLM model.

    `chars` are the vocabulary's characters in id order (id = index + 1); the space is the word
    boundary. `decode` takes one utterance's log-probabilities.
    """

    def __init__(self, chars: list[str], model: KenLMModel, *, lm_weight: float, word_score: float, beam_width: int):
        from flashlight.lib.text.decoder import CriterionType, LexiconDecoder, LexiconDecoderOptions, SmearingMode, Trie

        if " " not in chars:
            raise UserError(f"{model.path}: the training transcripts have no spaces, so words cannot be decoded with a word LM")
        ids = {c: i + 1 for i, c in enumerate(chars)}
        silence = ids[" "]
        n_tokens = len(chars) + 1
        trie = Trie(n_tokens, silence)
        start = model.lm.start(False)
        self.skipped_words = 0
        for word in model.words:
            if any(c not in ids or c == " " for c in word):
                self.skipped_words += 1
                continue
            index = model.word_dict.get_index(word)
            _, score = model.lm.score(start, index)
            trie.insert([ids[c] for c in word] + [silence], index, score)
        trie.smear(SmearingMode.MAX)
        options = LexiconDecoderOptions(
            beam_size=beam_width, beam_size_token=n_tokens, beam_threshold=BEAM_THRESHOLD, lm_weight=lm_weight,
            word_score=word_score, unk_score=UNK_WEIGHT, sil_score=SIL_WEIGHT, log_add=False, criterion_type=CriterionType.CTC,
        )
        self._words = model.word_dict
        self._decoder = LexiconDecoder(options, trie, model.lm, silence, 0, model.word_dict.get_index("<unk>"), [], False)
        self.lexicon_size = len(model.words) - self.skipped_words
        self.settings = {"lm_weight": lm_weight, "word_score": word_score, "beam_width": beam_width,
                         "beam_threshold": BEAM_THRESHOLD, "sil_weight": SIL_WEIGHT, "unk_weight": "-inf"}

    def decode(self, log_probs: np.ndarray) -> str:
        """One utterance's transcript (the best hypothesis's words) from its (frames, vocab + 1) log-probabilities."""
        emissions = np.ascontiguousarray(log_probs, dtype=np.float32)
        frames, tokens = emissions.shape
        if frames == 0:
            return ""
        best = self._decoder.decode(emissions.ctypes.data, frames, tokens)
        if not best:
            return ""
        return " ".join(self._words.get_entry(w) for w in best[0].words if w >= 0)
