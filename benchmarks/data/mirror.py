"""Mirror manifests: what `bench fetch` wrote, and the check `bench run --data-dir` makes.

A mirror folder `DIR/<suite>/<card>/` holds split files plus `manifest.json`:
`{"format": "polyglue-mirror/1", "card": ..., "resolved_revision": ..., "files":
{"train.parquet": {"sha256": ..., "rows": ..., "bytes": ...}}}`. A file whose hash differs
from the manifest is refused: results computed on tampered data would be silently wrong.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from benchmarks.errors import UserError

MANIFEST = "manifest.json"
FORMAT = "polyglue-mirror/1"
_verified: dict[tuple[str, float], None] = {}


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(root: Path) -> dict | None:
    path = Path(root) / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: mirror manifest is not valid JSON ({exc.msg})") from None
    if manifest.get("format") != FORMAT:
        raise UserError(f"{path}: unknown mirror format {manifest.get('format')!r} (expected {FORMAT})")
    return manifest


def verify_mirror(root: Path) -> dict | None:
    """Check every file the manifest lists against its sha256; once per process per manifest."""
    root = Path(root)
    manifest = read_manifest(root)
    if manifest is None:
        return None
    key = (str(root.resolve()), (root / MANIFEST).stat().st_mtime)
    if key in _verified:
        return manifest
    for name, meta in manifest.get("files", {}).items():
        path = root / name
        if not path.exists():
            raise UserError(f"mirror {root}: {name} is listed in {MANIFEST} but missing; re-run `bench fetch`")
        got = sha256_file(path)
        if got != meta.get("sha256"):
            raise UserError(
                f"mirror {root}: {name} does not match its checksum in {MANIFEST} "
                f"(expected {str(meta.get('sha256'))[:12]}…, got {got[:12]}…); the mirror was modified — re-run `bench fetch`"
            )
    _verified[key] = None
    return manifest
