"""The Kathbath layout (IndicSUPERB), as DESIGN.md fixes it, found by globbing.

```
ROOT/<language>/<split>/audio/<speaker>/<utt>-<speaker>-<m|f>.wav   (or .flac)
ROOT/<language>/<split>/transcription.txt                        <file name>TAB<transcript>
ROOT/meta_data/<language>/{valid,test_known,test}_data.txt       label TAB path1 TAB path2
ROOT/ks/<split>/<keyword>/*.wav                                  (an extra language level is allowed)
ROOT/qbe/queries/*.wav  ROOT/qbe/docs/*.wav  ROOT/qbe/ground_truth.tsv   query TAB doc TAB 1|0
```

Language folders are the English names (`hindi`) or ISO codes (`hi`, `hin`); splits are
`train`, `valid`, `test_known`, `test`. Speaker and gender come from the file name
(`<utt>-<speaker>-<gender>`), falling back to the speaker folder. Nothing else is assumed:
audio is globbed under each split folder, so a flat `<split>/*.wav` works too.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from polyglue.data.confine import confined, regular_file
from polyglue.errors import DataError, UserError
from polyglue.speech.audio import AUDIO_EXTENSIONS, UNSUPPORTED_EXTENSIONS, conversion_hint
from polyglue.speech.corpus import QbeSet, Trial, Utterance
from polyglue.speech.languages import folder_names, kathbath_language

NAME_PATTERN = re.compile(r"^(?P<utt>.+)-(?P<speaker>[^-]+)-(?P<gender>[mfMF])$")
TRANSCRIPT_FILES = ("transcription.txt", "transcription_n2w.txt")
SPLIT_NAMES = ("train", "valid", "test_known", "test")


def audio_files(folder: Path, root: Path) -> list[Path]:
    """wav/flac files under `folder`, sorted; m4a-only folders raise the conversion hint."""
    if not folder.is_dir():
        return []
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
    if not found:
        other = next((p for p in folder.rglob("*") if p.suffix.lower() in UNSUPPORTED_EXTENSIONS), None)
        if other is not None:
            raise UserError(
                f"{folder} holds {other.suffix} audio, which cannot be read (wav or flac only); convert it once with: "
                + conversion_hint(root)
            )
    return found


def speaker_and_gender(path: Path) -> tuple[str | None, str | None]:
    match = NAME_PATTERN.match(path.stem)
    if match:
        return match["speaker"], match["gender"].lower()
    parent = path.parent.name
    return (parent if parent not in ("audio", *SPLIT_NAMES) else None), None


class KathbathCorpus:
    """Reads one Kathbath root (`DIR/<suite>/`)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise UserError(
                f"no Kathbath data at {self.root}: expected {self.root}/<language>/<split>/audio/... "
                "(give --data-dir DIR with DIR/<suite>/ holding the corpus)"
            )

    # ------------------------------------------------------------------ folders

    def language_dir(self, key: str, parent: Path | None = None) -> Path | None:
        """The folder of language `key` under `parent` (default: the root), matched case-insensitively."""
        parent = parent or self.root
        if not parent.is_dir():
            return None
        names = folder_names(key)
        for child in sorted(parent.iterdir()):
            if child.is_dir() and child.name.lower() in names:
                return child
        return None

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _language_of(self, path: Path) -> str | None:
        """The language a path component names (`.../hindi/...`), if any."""
        for part in path.relative_to(self.root).parts[:-1]:
            key = kathbath_language(part)
            if key is not None:
                return key
        return None

    # ------------------------------------------------------------------ utterances

    def utterances(self, key: str, split: str) -> list[Utterance]:
        """Every utterance of one language and split, with speaker, gender and transcript when known."""
        lang_dir = self.language_dir(key)
        if lang_dir is None:
            return []
        split_dir = lang_dir / split
        files = audio_files(split_dir, self.root)
        transcripts = self._transcripts(split_dir)
        out = []
        for path in files:
            speaker, gender = speaker_and_gender(path)
            out.append(
                Utterance(
                    id=self._relative(path),
                    path=path,
                    language=key,
                    speaker=speaker,
                    gender=gender,
                    transcript=transcripts.get(path.stem),
                )
            )
        return out

    def folder_utterances(self, key: str, folder: str) -> list[Utterance]:
        """Utterances of language `key` under `ROOT/<folder>/` (IndicSUPERB LID's `chunk_data/<language>/*.wav`:
        the language is the folder a path names); `ROOT/<language>/<folder>/` is read too."""
        base = self.root / folder
        found = [p for p in audio_files(base, self.root) if self._language_of(p) == key] if base.is_dir() else []
        lang_dir = self.language_dir(key)
        if lang_dir is not None and (lang_dir / folder).is_dir():
            found += audio_files(lang_dir / folder, self.root)
        out = []
        for path in sorted(set(found)):
            speaker, gender = speaker_and_gender(path)
            out.append(Utterance(id=self._relative(path), path=path, language=key, speaker=speaker, gender=gender))
        return out

    def has_transcripts(self, key: str, split: str) -> bool:
        lang_dir = self.language_dir(key)
        return lang_dir is not None and any((lang_dir / split / name).exists() for name in TRANSCRIPT_FILES)

    @staticmethod
    def _transcripts(split_dir: Path) -> dict[str, str]:
        for name in TRANSCRIPT_FILES:
            path = split_dir / name
            if path.exists():
                out = {}
                for number, line in enumerate(_text(path).splitlines(), 1):
                    if not line.strip():
                        continue
                    if "\t" not in line:
                        raise DataError(f"{path}:{number}: expected '<file name><TAB><transcript>'")
                    name_part, text = line.split("\t", 1)
                    out[Path(name_part.strip()).stem] = text.strip()
                return out
        return {}

    # ------------------------------------------------------------------ verification trials

    def trials(self, key: str, split: str) -> list[Trial]:
        """`meta_data/<language>/<split>_data.txt`; paths are relative to the root."""
        meta = self.language_dir(key, self.root / "meta_data")
        if meta is None:
            return []
        path = meta / f"{split}_data.txt"
        if not path.exists():
            return []
        return read_trials(path, self.root, key, self)

    # ------------------------------------------------------------------ keyword spotting

    def keywords(self, split: str) -> list[Utterance]:
        """`ks/.../<split>/<keyword>/*.wav`: the label is the keyword folder, the split a path component."""
        ks = self.root / "ks"
        out = []
        for path in audio_files(ks, self.root):
            parts = path.relative_to(ks).parts
            if len(parts) < 3 or parts[-3] != split:
                continue
            out.append(Utterance(id=self._relative(path), path=path, language=self._language_of(path), label=parts[-2]))
        return out

    # ------------------------------------------------------------------ query by example

    def qbe(self, roles: dict[str, str]) -> QbeSet:
        """Queries split into `roles` (role -> source split name), shared docs and the ground truth.

        A query's split is the path component under `qbe/queries/` that names one of the
        splits, else the fourth ground-truth column, else a stable hash of its id (half
        valid, half test), so the same corpus always splits the same way.
        """
        qbe = self.root / "qbe"
        queries_dir, docs_dir, truth_path = qbe / "queries", qbe / "docs", qbe / "ground_truth.tsv"
        for needed in (queries_dir, docs_dir, truth_path):
            if not needed.exists():
                raise UserError(f"query-by-example data is incomplete: {needed} is missing")
        truth, truth_split = {}, {}
        for number, line in enumerate(_text(truth_path).splitlines(), 1):
            if not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 3 or cols[2].strip() not in ("0", "1"):
                raise DataError(f"{truth_path}:{number}: expected 'query_id<TAB>doc_id<TAB>1|0[<TAB>split]'")
            truth[(cols[0].strip(), cols[1].strip())] = int(cols[2])
            if len(cols) > 3 and cols[3].strip():
                truth_split[cols[0].strip()] = cols[3].strip()
        by_name = {name: role for role, name in roles.items()}
        queries: dict[str, list[Utterance]] = {role: [] for role in roles}
        rules: set[str] = set()
        for path in audio_files(queries_dir, self.root):
            utt = Utterance(id=self._relative(path), path=path, language=self._language_of(path))
            folder = next((p for p in path.relative_to(queries_dir).parts[:-1] if p in by_name), None)
            if folder is not None:
                role, rules = by_name[folder], rules | {"folder"}
            elif path.stem in truth_split and truth_split[path.stem] in by_name:
                role, rules = by_name[truth_split[path.stem]], rules | {"ground-truth column"}
            else:
                role, rules = _hash_role(path.stem, roles), rules | {"hash of the query id"}
            queries[role].append(utt)
        docs = [Utterance(id=self._relative(p), path=p, language=self._language_of(p)) for p in audio_files(docs_dir, self.root)]
        return QbeSet(queries=queries, docs=docs, truth=truth, split_rule=", ".join(sorted(rules)))


def _text(path: Path) -> str:
    """A corpus text file (transcripts, trials, ground truth): a regular file, UTF-8, errors naming the file."""
    regular_file(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def _hash_role(query_id: str, roles: dict[str, str]) -> str:
    """Stable half/half assignment of a query to validation or test."""
    order: list[str] = [r for r in ("validation", "test") if r in roles] or list(roles)
    return order[hashlib.sha256(query_id.encode()).digest()[0] % len(order)]


def read_trials(path: Path, root: Path, language: str | None, corpus=None, base: Path | None = None) -> list[Trial]:
    """`label<TAB>path1<TAB>path2` lines; paths relative to `base` (default `root`) and confined to `root`.

    A path that leaves `root` (`../../outside/x.wav`, `/abs/y.wav`, a symlink out) or missing
    audio is a DataError naming the line.
    """
    out = []
    for number, line in enumerate(_text(path).splitlines(), 1):
        if not line.strip():
            continue
        cols = re.split(r"\t| +", line.strip())
        if len(cols) != 3 or cols[0] not in ("0", "1"):
            raise DataError(f"{path}:{number}: expected 'label<TAB>path1<TAB>path2' with label 0 or 1")
        pair = []
        for rel in cols[1:]:
            audio = confined(root, rel, where=f"{path}:{number}", base=base)
            if not audio.exists():
                raise DataError(f"{path}:{number}: audio file {audio} does not exist")
            speaker, gender = speaker_and_gender(audio)
            try:
                uid = audio.resolve().relative_to(Path(root).resolve()).as_posix()
            except ValueError:
                uid = audio.as_posix()
            pair.append(Utterance(id=uid, path=audio, language=language, speaker=speaker, gender=gender))
        out.append(Trial(int(cols[0]), pair[0], pair[1]))
    return out
