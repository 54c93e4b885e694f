"""Mirror manifests: what `bench fetch` wrote, and the check `bench run --data-dir` makes.

A mirror folder `DIR/<suite>/<card>/` holds split files (and `audio/` for speech) plus
`manifest.json`:
`{"format": "polyglue-mirror/1", "suite": ..., "card": ..., "card_version": ...,
"source": {"hub": ..., "config": ..., "revision": <as the card asked>},
"resolved_revision": <the commit actually read>, "created": ..., "tool": {...},
"files": {"train.parquet": {"sha256": ..., "bytes": ..., "rows": ...}, "audio/train/000000.wav": {...}}}`.
A file whose hash differs from the manifest is refused: results computed on tampered
data would be silently wrong. So is a mirror of another revision than the card pins.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from polyglue.data.confine import inside
from polyglue.errors import UserError

MANIFEST = "manifest.json"
FORMAT = "polyglue-mirror/1"
_verified: set[tuple] = set()


from polyglue.hashing import file_sha256 as sha256_file  # noqa: E402 - the one file hash


def file_entry(path: Path, rows: int | None = None) -> dict:
    """The manifest entry of one file: sha256, size in bytes, and the row count of a table."""
    entry = {"sha256": sha256_file(path), "bytes": Path(path).stat().st_size}
    if rows is not None:
        entry["rows"] = rows
    return entry


def write_manifest(root: Path, manifest: dict) -> Path:
    """Write `manifest.json` (format stamped, files sorted) atomically into `root`."""
    body = {"format": FORMAT, **manifest}
    body["files"] = dict(sorted(body.get("files", {}).items()))
    path = Path(root) / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_manifest(root: Path) -> dict | None:
    path = Path(root) / MANIFEST
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: mirror manifest is not valid JSON ({exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: mirror manifest is not UTF-8 (byte {exc.start}); re-run `bench fetch`") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise UserError(f"{path}: unknown mirror format {got!r} (expected {FORMAT})")
    return manifest


def _stat_key(root: Path, manifest: dict) -> tuple:
    """Identity of the mirror on disk: manifest and every listed file's size and mtime (cheap to recompute)."""
    stats = []
    for name in [MANIFEST, *manifest.get("files", {})]:
        try:
            st = (root / name).stat()
            stats.append((name, st.st_size, st.st_mtime_ns))
        except OSError:
            stats.append((name, None, None))
    return (str(root.resolve()), tuple(stats))


def verify_mirror(root: Path, expected_revision: str | None = None) -> dict | None:
    """Check every file the manifest lists against its sha256, and the revision when the card pins one.

    Hashing runs once per process per mirror state: a file rewritten later (new size or
    mtime) is hashed again, so tampering between two runs in one process is still caught.
    """
    root = Path(root)
    manifest = read_manifest(root)
    if manifest is None:
        return None
    resolved = manifest.get("resolved_revision")
    if expected_revision and resolved and resolved != expected_revision:
        raise UserError(
            f"mirror {root} holds revision {resolved[:12]}…, but the card pins {expected_revision[:12]}…; "
            f"re-run `bench fetch` for this suite"
        )
    key = _stat_key(root, manifest)
    if key in _verified:
        return manifest
    files = manifest.get("files", {})
    if not isinstance(files, dict):
        raise UserError(f"{root / MANIFEST}: 'files' must map file names to their sha256 entries")
    for name, meta in files.items():
        if not isinstance(name, str) or not name or Path(name).is_absolute() or "\\" in name or ".." in Path(name).parts or not isinstance(meta, dict):
            raise UserError(f"{root / MANIFEST}: file entry {str(name)[:80]!r} is not a relative path inside the mirror; re-run `bench fetch`")
        path = root / name
        if path.is_symlink() and not inside(root, path):
            raise UserError(f"mirror {root}: {name} is a symlink that points outside the mirror; refused")
        if not path.exists():
            raise UserError(f"mirror {root}: {name} is listed in {MANIFEST} but missing; re-run `bench fetch`")
        got = sha256_file(path)
        if got != meta.get("sha256"):
            raise UserError(
                f"mirror {root}: {name} does not match its checksum in {MANIFEST} "
                f"(expected {str(meta.get('sha256'))[:12]}…, got {got[:12]}…); the mirror was modified — re-run `bench fetch`"
            )
    _verified.add(key)
    return manifest
