"""A size cap on the feature cache: parse `5MB` / `500GB`, evict least-recently-used shards.

Why shards and not items: a shard (`shard-<id>.f16` / `.q8` plus its `.idx`) is written
once and published by a rename, so deleting a whole shard is atomic for readers (an
index either lists a shard that exists or the reader treats its items as missing and
recomputes them). Writers rotate to a new shard every `shard_bytes`, so eviction
granularity stays small next to the budget.

Recency is the `.idx` file's mtime: a read touches it (once per process per shard), a
publish sets it. Eviction walks every namespace under the cache root, oldest first, and
never removes the shards the evicting process itself wrote or read in this run (its
working set): if the working set alone exceeds the budget, what does not fit is not
stored and is recomputed when needed (see `FeatureNamespace`), the run never fails.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from polyglue.errors import UserError

ENV = "POLYGLUE_CACHE_BUDGET"

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*")

DEFAULT_SHARD_BYTES = 64 * 2**20
"""Rotate shards at this size (or a sixteenth of the budget, whichever is smaller)."""


def parse_size(text: str, *, what: str = "cache budget") -> int:
    """`'5MB'` -> 5_000_000; `'1.5GiB'`, `'200kb'`, `'1024'` (bytes). Anything else is a UserError."""
    match = _SIZE.fullmatch(str(text))
    unit = match.group(2).upper() if match else None
    if not match or unit not in _UNITS:
        raise UserError(f"{what} '{text}': use a size such as 500MB, 20GB or 1.5TiB (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)")
    value = int(float(match.group(1)) * _UNITS[unit])
    if value <= 0:
        raise UserError(f"{what} '{text}' must be more than 0 bytes")
    return value


def budget_from_env() -> int | None:
    """The budget `$POLYGLUE_CACHE_BUDGET` sets, or None (unbounded)."""
    raw = os.environ.get(ENV, "").strip()
    return parse_size(raw, what=f"${ENV}") if raw else None


def human(n: int) -> str:
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def shards(root: Path) -> list[tuple[float, int, Path]]:
    """Every published shard under the cache root: `(last use, bytes, idx path)`; one directory listing per namespace."""
    out: list[tuple[float, int, Path]] = []
    if not root.exists():
        return out
    for ns in os.scandir(root):
        if not ns.is_dir():
            continue
        sizes: dict[str, int] = {}
        used: dict[str, float] = {}
        try:
            for entry in os.scandir(ns.path):
                name = entry.name
                if not name.startswith("shard-") or name.endswith(".tmp"):
                    continue
                stem, _, ext = name.partition(".")
                try:
                    stat = entry.stat()
                except FileNotFoundError:  # evicted by another process meanwhile
                    continue
                sizes[stem] = sizes.get(stem, 0) + stat.st_size
                if ext == "idx":
                    used[stem] = stat.st_mtime
        except FileNotFoundError:
            continue
        out += [(used[stem], sizes[stem], Path(ns.path) / f"{stem}.idx") for stem in used]
    return out


def total_bytes(root: Path) -> int:
    return sum(size for _, size, _ in shards(root))


def make_room(root: Path, needed: int, budget: int, keep: set[Path]) -> bool:
    """Evict least-recently-used shards (never those in `keep`) until `needed` more bytes fit in `budget`.

    Returns whether they fit. Eviction removes the index first, so a concurrent reader
    never sees an index whose data is half gone.
    """
    if needed > budget:
        return False
    entries = sorted(shards(root))
    used = sum(size for _, size, _ in entries)
    for _, size, idx in entries:
        if used + needed <= budget:
            break
        if idx in keep:
            continue
        idx.unlink(missing_ok=True)
        for suffix in (".f16", ".q8"):
            idx.with_suffix(suffix).unlink(missing_ok=True)
        used -= size
    return used + needed <= budget


class Notices:
    """One line per kind of cache trouble per process, on stderr (a run with a full cache stays readable)."""

    def __init__(self):
        self._seen: set[str] = set()

    def __call__(self, kind: str, message: str) -> None:
        if kind not in self._seen:
            self._seen.add(kind)
            print(f"feature cache: {message}", file=sys.stderr)


notice = Notices()
