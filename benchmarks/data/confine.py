"""Keep every data read inside the root the user gave: no `..` escapes, absolute paths, symlinks out, devices.

One check used by every reader that follows a path written in a data file (trial lists,
audio manifests, mirror manifests) or a card (local sources): the path is resolved, symlinks
included, and must stay inside its root; the file must be a regular file, checked with
`os.stat` before it is opened (a FIFO or `/dev/zero` would block or never end).
Refusals are `DataError`s that name where the path was written (`file:line` or card field),
never the content of the file it points to.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from polyglue.errors import DataError


def inside(root: Path, path: Path) -> bool:
    """Whether `path`, symlinks resolved, lies inside `root` (symlinks resolved too)."""
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return False
    return True


def confined(root: Path, value: str, *, where: str, base: Path | None = None) -> Path:
    """`value` (a relative path written at `where`) joined to `base` (default `root`), refused if it leaves `root`."""
    text = str(value)
    if not text or Path(text).is_absolute() or text.startswith("~"):
        raise DataError(f"{where}: path '{_short(text)}' is absolute; paths must be relative and stay inside {root}")
    path = Path(os.path.normpath(Path(base if base is not None else root) / text))
    if not inside(root, path):
        raise DataError(f"{where}: path '{_short(text)}' points outside {root} ('..' or a symlink); refused")
    return path


def regular_file(path: Path, *, where: str | None = None) -> Path:
    """`path` if it is a regular file; devices, FIFOs, sockets and folders are refused before any read."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{where + ': ' if where else ''}data file not found: {path}") from None
    except OSError as exc:
        raise DataError(f"{where + ': ' if where else ''}{path}: cannot read ({exc.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise DataError(f"{where + ': ' if where else ''}{path} is a folder, not a data file")
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{where + ': ' if where else ''}{path} is not a regular file (a device, FIFO or socket); refused before reading")
    return Path(path)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
