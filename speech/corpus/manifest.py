"""Generic audio manifests, so other speech corpora fit the same runners.

A card with `source.layout: {name: audio-manifest, files: {split: path}}` lists each split in
a CSV, TSV or JSONL file under `DIR/<suite>/`; `fields` maps its columns to roles (`audio`,
`label`, `speaker`, `transcript`, `language`, `id`, `gender`). Audio paths are relative to
the manifest's folder. Speaker-verification evaluation splits are trial lists: columns with
roles `audio`, `audio_pair` and `label` (0/1), or a `.txt` file of `label<TAB>path1<TAB>path2`.
"""

from __future__ import annotations

from pathlib import Path

from polyglue.cards.schema import Card, LayoutSource
from polyglue.data.confine import confined, regular_file
from polyglue.errors import DataError, UserError
from polyglue.speech.audio import refuse_unsupported
from polyglue.speech.corpus import Trial, Utterance
from polyglue.speech.corpus.kathbath import read_trials
from polyglue.speech.languages import language_key


def layout_of(card: Card) -> LayoutSource:
    """The corpus layout a speech card names (`source.layout`); text cards have none."""
    layout = card.source.layout
    if layout is None:
        raise UserError(f"card '{card.name}': a speech task needs source.layout (kathbath or audio-manifest)")
    return layout


class ManifestCorpus:
    """Reads the manifest files a card names, relative to `root` (`DIR/<suite>/`)."""

    def __init__(self, root: Path, card: Card):
        self.root = Path(root)
        self.card = card
        self.files = layout_of(card).files or {}
        self.columns: dict[str, str] = {role: column for column, role in card.fields.items()}

    def _path(self, split: str) -> Path:
        if split not in self.files:
            raise UserError(f"card '{self.card.name}': no manifest for split '{split}'")
        path = confined(self.root, self.files[split], where=f"card '{self.card.name}': source.layout.files.{split}")
        if not path.exists():
            raise UserError(f"card '{self.card.name}': manifest {path} does not exist (split '{split}')")
        return path

    def _rows(self, path: Path) -> list[dict]:
        regular_file(path)
        try:
            return self._parse_rows(path)
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not UTF-8 text (byte {exc.start}); save the manifest as UTF-8") from None

    def _parse_rows(self, path: Path) -> list[dict]:
        if path.suffix == ".jsonl":
            from polyglue import jsonl

            return jsonl.read_jsonl(path)
        import csv

        with open(path, encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh, delimiter="\t" if path.suffix == ".tsv" else ","))

    def _value(self, row: dict, role: str, path: Path, number: int, required: bool = True):
        column = self.columns.get(role)
        if column is None:
            return None
        if column not in row or row[column] in (None, ""):
            if required:
                raise DataError(f"{path}:{number}: column '{column}' ({role}) is missing or empty")
            return None
        return str(row[column])

    def _audio(self, manifest: Path, value: str, number: int) -> tuple[str, Path]:
        audio = confined(self.root, value, where=f"{manifest}:{number}", base=manifest.parent)
        refuse_unsupported(audio, manifest.parent)
        if not audio.exists():
            raise DataError(f"{manifest}:{number}: audio file {audio} does not exist")
        try:
            uid = audio.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            uid = audio.as_posix()
        return uid, audio

    def utterances(self, split: str) -> list[Utterance]:
        """Every row of a split as an utterance; the task decides which fields it needs."""
        path = self._path(split)
        out = []
        for number, row in enumerate(self._rows(path), 2 if path.suffix != ".jsonl" else 1):
            uid, audio = self._audio(path, self._value(row, "audio", path, number), number)
            language = self._value(row, "language", path, number, required=False)
            out.append(
                Utterance(
                    id=self._value(row, "id", path, number, required=False) or uid,
                    path=audio,
                    language=language_key(language) if language else None,
                    speaker=self._value(row, "speaker", path, number, required=False),
                    gender=self._value(row, "gender", path, number, required=False),
                    transcript=self._value(row, "transcript", path, number, required=False),
                    label=self._value(row, "label", path, number, required=False),
                )
            )
        return out

    def trials(self, split: str) -> list[Trial]:
        """Verification trials of an evaluation split."""
        path = self._path(split)
        if path.suffix == ".txt":
            return read_trials(path, self.root, None, base=path.parent)
        out = []
        for number, row in enumerate(self._rows(path), 2 if path.suffix != ".jsonl" else 1):
            label = self._value(row, "label", path, number)
            if label not in ("0", "1"):
                raise DataError(f"{path}:{number}: trial label must be 0 or 1 (got '{label}')")
            language = self._value(row, "language", path, number, required=False)
            key = language_key(language) if language else None
            pair = []
            for role in ("audio", "audio_pair"):
                uid, audio = self._audio(path, self._value(row, role, path, number), number)
                pair.append(Utterance(id=uid, path=audio, language=key))
            out.append(Trial(int(label), pair[0], pair[1]))
        return out
