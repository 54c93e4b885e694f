"""Trained models kept under the runs directory for units that evaluate them (`train_from` cards).

The runs-layer side of `polyglue.contract.TrainedModels`. A model lives in
`<runs-dir>/artifacts/models/<source unit key>/`, written through the same atomic folder
writer as the driver's unit artifacts (`store.write_folder`: temporary folder, then rename)
with a `manifest.json` listing each file's SHA-256. A folder whose manifest is missing or
does not match its files (a copy edited, truncated or half-copied by hand) is never read:
the unit trains again and replaces it.

`exclusive()` is a file lock (`filelock`) per key: the source unit and its `train_from`
units, in one process or several sharing the runs dir, check and train under it, so the
model is trained once and every later unit waits for it and loads it.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from polyglue.runs.store import write_folder

MANIFEST = "manifest.json"
FOLDER = Path("artifacts") / "models"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class KeptModels:
    """`TrainedModels` for one key, stored under `runs_dir`."""

    def __init__(self, runs_dir: Path, key: str):
        self.runs_dir = Path(runs_dir)
        self.key = key
        self.rel = FOLDER / key
        self.folder = self.runs_dir / self.rel

    def load(self) -> tuple[Path, dict] | None:
        try:
            doc = json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))
            files = doc["files"]
            if doc.get("key") != self.key or not files:
                return None
            for name, digest in files.items():
                if Path(name).name != name or _sha256(self.folder / name) != digest:
                    return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        return self.folder, dict(doc.get("meta") or {}, path=str(self.rel))

    def save(self, files: dict[str, bytes], meta: dict) -> str:
        manifest = {"key": self.key, "files": {n: hashlib.sha256(b).hexdigest() for n, b in files.items()}, "meta": meta}
        write_folder(self.folder, {**files, MANIFEST: json.dumps(manifest, indent=1, sort_keys=True).encode()})
        return str(self.rel)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        from filelock import FileLock

        self.folder.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.folder.parent / f"{self.key}.lock")):
            yield
