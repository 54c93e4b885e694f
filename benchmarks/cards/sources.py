"""Where a card's data comes from: the Hub at a pinned revision, files next to the card, or a
named corpus layout under `--data-dir` (read by the speech runners)."""

from __future__ import annotations

import re
from pathlib import PurePosixPath as Path

from pydantic import Field, field_validator, model_validator

from polyglue.cards.base import SHA_PATTERN, Strict
from polyglue.cards.vocab import LayoutName, LocalFormat


class HubSource(Strict):
    """A dataset on the Hugging Face Hub, read as parquet/jsonl data files (never a loading script)."""

    path: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    """Repository id, `namespace/name` (e.g. `nyu-mll/glue`)."""
    config: str | None = None
    """Dataset configuration (subset), e.g. `cola`."""
    revision: str | None = None
    """40-hex commit SHA. Anything else is reported as unpinned by `bench validate`."""
    data_files: dict[str, str | list[str]] | None = None
    """Source split name -> file pattern(s) inside the repository, when the repo has no `configs:`.
    Such files are downloaded as they are and read by extension (parquet, jsonl, json incl.
    SQuAD-style, csv, tsv, conllu, conll), never through a loading script."""
    columns: list[str] | None = None
    """Column names for header-less csv/tsv data files (e.g. STS-ca's raw TSVs)."""

    @property
    def pinned(self) -> bool:
        return bool(self.revision and SHA_PATTERN.match(self.revision))


class LocalSource(Strict):
    """Files next to the card (paths are relative to the card file; absolute paths are refused)."""

    files: dict[str, str]
    """Source split name -> path or glob relative to the card's folder."""
    format: LocalFormat
    columns: list[str] | None = None
    """Column names for header-less csv/tsv files."""

    @field_validator("files")
    @classmethod
    def _relative(cls, files: dict[str, str]) -> dict[str, str]:
        for split, path in files.items():
            if path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path):
                raise ValueError(f"files.{split}: '{path}' is absolute; use a path relative to the card file")
        if not files:
            raise ValueError("at least one split file is required")
        return files


MANIFEST_EXTENSIONS = (".csv", ".tsv", ".jsonl", ".txt")


class LayoutSource(Strict):
    """A named on-disk corpus layout under `--data-dir DIR`, read from `DIR/<suite>/` by the speech runners."""

    name: LayoutName
    """`kathbath` (the IndicSUPERB tree) or `audio-manifest` (CSV/TSV/JSONL lists of audio files)."""
    files: dict[str, str] | None = None
    """`audio-manifest` only: source split name -> manifest file relative to `DIR/<suite>/`
    (`.csv`, `.tsv`, `.jsonl`; `.txt` for Kathbath-style `label<TAB>path1<TAB>path2` trial lists)."""

    @model_validator(mode="after")
    def _files(self):
        if self.name == "kathbath":
            if self.files is not None:
                raise ValueError("the kathbath layout finds its files itself; remove `files`")
            return self
        if not self.files:
            raise ValueError("an audio-manifest layout needs `files` (split name -> manifest path)")
        for split, path in self.files.items():
            if path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path) or ".." in Path(path).parts:
                raise ValueError(f"files.{split}: '{path}' must be relative to DIR/<suite>/ (no absolute path, no '..')")
            if not path.endswith(MANIFEST_EXTENSIONS):
                raise ValueError(f"files.{split}: '{path}' is not a manifest ({', '.join(MANIFEST_EXTENSIONS)})")
        return self


class Source(Strict):
    """Where the data comes from: exactly one of `hub`, `local` or `layout`."""

    hub: HubSource | None = None
    local: LocalSource | None = None
    layout: LayoutSource | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in ("hub", "local", "layout") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of hub, local, layout (got {', '.join(given) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("hub", "local", "layout") if getattr(self, k) is not None)

    @property
    def revision(self) -> str:
        """What identifies the data version in unit keys."""
        if self.hub:
            return self.hub.revision or "unpinned"
        return "local" if self.local or self.layout is None else f"layout:{self.layout.name}"
