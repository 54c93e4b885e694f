"""Content-addressed cache of frozen features, memory-mapped, optionally size-capped.

A *namespace* is everything that determines features except the input: encoder identity
(weights hash or hub revision), layer set, pooling, preprocessing, stored form. Inside it,
each item (a sentence, an utterance) is keyed by the hash of its content, never by a file
name, so another model's or another input's features can never be served.

Layout: `<root>/<namespace>/meta.json` plus shards: `shard-<id>.f16` (raw float16 rows,
each item a `(rows, dim)` block) or `shard-<id>.q8` (int8 per-channel quantised: per item
`dim` float32 scales then `(rows, dim)` int8), and `shard-<id>.idx` (one JSON line per
item: key, offset, rows). A writer collects a shard in memory and publishes it with two
renames (data, then index), so a crash or a full disk leaves no half-written shard
visible, and concurrent writers (Ray workers) never touch the same file. Reads are
`pread`s (or `np.memmap` views for fp16): training on cached features does not load the
corpus into memory.

With a budget (`FeatureCache(budget=...)`, `$POLYGLUE_CACHE_BUDGET`, `bench run
--cache-budget`) least-recently-used shards are evicted first (`polyglue.cache_budget`).
What cannot be stored (budget too small, directory not writable, disk full) is kept in
memory up to `spill_bytes` and otherwise reported missing (`MissingFeatures`), so callers
recompute it: a cache problem costs time, never a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from polyglue import cache_budget
from polyglue.cache_budget import human, notice
from polyglue.encoders import cache_root

DTYPE = np.float16
CODECS = ("f16", "q8")
SPILL_BYTES = 256 * 2**20
"""Features that could not be stored, kept in memory per namespace (the rest are recomputed)."""


class MissingFeatures(KeyError):
    """An item is neither on disk nor in memory (never stored, evicted, or its shard vanished): recompute it."""


def _index_entry(raw: bytes) -> tuple[str, int, int] | None:
    """`(key, offset, rows)` from one index line, or None when the line is not exactly that."""
    try:
        key, offset, rows = json.loads(raw.decode("utf-8"))
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    if not isinstance(key, str) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (offset, rows)):
        return None
    return key, offset, rows


def content_key(*parts) -> str:
    """Stable hash of strings/bytes/JSON-able parts."""
    digest = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, ensure_ascii=False).encode()
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def quantise(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 per-channel (per column) symmetric quantisation: `(scales (dim,) float32, q (rows, dim) int8)`.

    Each value comes back within `scale / 2 = max|column| / 254` of its input (then rounded
    to float16), whatever the column's range, so quiet and loud channels keep the same
    relative precision.
    """
    x = np.asarray(block, dtype=np.float32)
    peak = np.abs(x).max(axis=0) if x.shape[0] else np.zeros(x.shape[1], np.float32)
    scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(x / scales), -127, 127).astype(np.int8)
    return scales, q


def dequantise(scales: np.ndarray, q: np.ndarray) -> np.ndarray:
    return (q.astype(np.float32) * scales).astype(DTYPE)


@dataclass(frozen=True)
class _Loc:
    shard: str
    offset: int  # f16: in rows; q8: in bytes
    rows: int


class FeatureNamespace:
    """The cached features of one encoder configuration; `dim` values per row."""

    def __init__(self, root: Path, meta: dict, cache: "FeatureCache | None" = None, *, writable: bool = True):
        self.root = Path(root)
        self.meta = meta
        self.dim = int(meta["dim"])
        self.codec = meta.get("codec", "f16")
        if self.codec not in CODECS:
            raise ValueError(f"feature namespace {self.root.name}: unknown stored form '{self.codec}'")
        self.cache = cache
        self.writable = writable
        self._index: dict[str, _Loc] = {}
        self._spill: dict[str, np.ndarray] = {}
        self._spill_bytes = 0
        self._maps: dict[str, np.memmap] = {}
        self._fds: dict[str, int] = {}
        self._touched: set[str] = set()
        self._load_index()

    @property
    def suffix(self) -> str:
        return f".{self.codec}"

    # ------------------------------------------------------------------ index

    def _load_index(self) -> None:
        """Index every shard; entries a garbled index line or a truncated shard cannot back are dropped
        (with one warning line per shard) and so recomputed, instead of crashing every later run."""
        for idx in sorted(self.root.glob("shard-*.idx")) if self.root.is_dir() else []:
            shard = idx.stem
            data = self.root / f"{shard}{self.suffix}"
            try:
                size = data.stat().st_size
                with open(idx, "rb") as fh:
                    lines = fh.readlines()
            except FileNotFoundError:  # evicted meanwhile
                continue
            dropped = 0
            for raw in lines:
                entry = _index_entry(raw)
                if entry is None or self._entry_end(entry[1], entry[2]) > size:
                    dropped += 1
                    continue
                key, offset, rows = entry
                self._index.setdefault(key, _Loc(shard, offset, rows))
            if dropped:
                print(f"warning: feature cache {data}: {dropped} entr{'y' if dropped == 1 else 'ies'} garbled or truncated; "
                      f"dropped, they will be recomputed", file=sys.stderr)

    def _entry_end(self, offset: int, rows: int) -> int:
        """The byte just past an entry in its shard (f16: offsets count rows; q8: bytes, scales first)."""
        if self.codec == "f16":
            return (offset + rows) * self.dim * np.dtype(DTYPE).itemsize
        return offset + 4 * self.dim + rows * self.dim

    def __contains__(self, key: str) -> bool:
        return key in self._index or key in self._spill

    def __len__(self) -> int:
        return len(self._index.keys() | self._spill.keys())

    def missing(self, keys: Iterable[str]) -> list[str]:
        return [k for k in dict.fromkeys(keys) if k not in self]

    def _forget_shard(self, shard: str) -> None:
        """The shard's files are gone (evicted by another process): its items are missing now."""
        for key in [k for k, loc in self._index.items() if loc.shard == shard]:
            del self._index[key]
        self._maps.pop(shard, None)
        fd = self._fds.pop(shard, None)
        if fd is not None:
            os.close(fd)

    def _touch(self, shard: str) -> None:
        """Mark a shard used (LRU recency) and part of this process's working set (never evicted by it)."""
        if shard in self._touched:
            return
        self._touched.add(shard)
        idx = self.root / f"{shard}.idx"
        if self.cache is not None:
            self.cache.keep.add(idx)
        try:
            os.utime(idx)
        except OSError:
            pass

    # ------------------------------------------------------------------ read

    def _locate(self, key: str) -> _Loc:
        loc = self._index.get(key)
        if loc is None:
            raise MissingFeatures(key)
        return loc

    def _map(self, shard: str) -> np.memmap:
        if shard not in self._maps:
            path = self.root / f"{shard}.f16"
            rows = path.stat().st_size // (2 * self.dim)
            self._maps[shard] = np.memmap(path, dtype=DTYPE, mode="r", shape=(rows, self.dim))
        return self._maps[shard]

    def get(self, key: str) -> np.ndarray:
        """The `(rows, dim)` float16 block of one item (fp16 on disk: a memory-mapped view, not a copy)."""
        if key in self._spill:
            return self._spill[key]
        loc = self._locate(key)
        if self.codec != "f16":
            return self.read(key)
        try:
            block = self._map(loc.shard)[loc.offset : loc.offset + loc.rows]
        except FileNotFoundError:
            self._forget_shard(loc.shard)
            raise MissingFeatures(key) from None
        self._touch(loc.shard)
        return block

    def rows(self, key: str) -> int:
        if key in self._spill:
            return self._spill[key].shape[0]
        return self._locate(key).rows

    def _pread(self, shard: str, out: np.ndarray, offset: int) -> None:
        fd = self._fds.get(shard)
        if fd is None:
            fd = self._fds[shard] = os.open(self.root / f"{shard}{self.suffix}", os.O_RDONLY)
        nbytes = out.nbytes
        # ndarray exports the buffer protocol; numpy's stubs do not declare it as a `Buffer`.
        if nbytes and os.preadv(fd, [memoryview(out).cast("B")], offset) != nbytes:  # type: ignore[arg-type]
            raise OSError(f"short read in {self.root / shard}{self.suffix} (truncated cache shard?)")

    def read(self, key: str, start: int = 0, rows: int | None = None) -> np.ndarray:
        """A private float16 copy of rows `[start, start + rows)` of one item, read with `pread`.

        Unlike `get`, nothing stays mapped: streaming a corpus many times (head training)
        keeps the process's resident memory at the size of a batch, not of the corpus.
        """
        total = self.rows(key)
        rows = total - start if rows is None else min(rows, total - start)
        if start < 0 or rows < 0:
            raise ValueError(f"rows [{start}, {start + rows}) are outside item {key[:12]} ({total} rows)")
        if key in self._spill:
            return self._spill[key][start : start + rows].copy()
        loc = self._locate(key)
        try:
            if self.codec == "f16":
                out = np.empty((rows, self.dim), dtype=DTYPE)
                self._pread(loc.shard, out, (loc.offset + start) * self.dim * 2)
            else:
                scales = np.empty(self.dim, dtype=np.float32)
                q = np.empty((rows, self.dim), dtype=np.int8)
                self._pread(loc.shard, scales, loc.offset)
                self._pread(loc.shard, q, loc.offset + 4 * self.dim + start * self.dim)
                out = dequantise(scales, q)
        except FileNotFoundError:
            self._forget_shard(loc.shard)
            raise MissingFeatures(key) from None
        self._touch(loc.shard)
        return out

    def close(self) -> None:
        """Close the file handles `read` opened (they are also closed when the namespace is collected)."""
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    # ------------------------------------------------------------------ write

    def encode(self, array: np.ndarray) -> tuple[np.ndarray, bytes]:
        """`(block as it reads back, bytes on disk)` for one item."""
        block = np.asarray(array, dtype=np.float32 if self.codec == "q8" else DTYPE)
        if block.ndim == 1:
            block = block[None, :]
        if block.ndim != 2 or block.shape[1] != self.dim:
            raise ValueError(f"feature block of shape {block.shape} does not fit dim {self.dim}")
        if self.codec == "f16":
            if not np.isfinite(block).all():
                raise ValueError("features contain inf/nan after fp16 conversion (values beyond ±65504?)")
            block = np.ascontiguousarray(block)
            return block, block.tobytes()
        if not np.isfinite(block).all():
            raise ValueError("features contain inf/nan")
        scales, q = quantise(block)
        return dequantise(scales, q), scales.tobytes() + q.tobytes()

    def remember(self, key: str, block: np.ndarray) -> bool:
        """Keep a decoded block in memory (it could not be stored); False when the spill limit is reached."""
        limit = self.cache.spill_bytes if self.cache is not None else SPILL_BYTES
        if key in self._spill:
            return True
        if self._spill_bytes + block.nbytes > limit:
            notice("spill", f"more than {human(limit)} of features could not be stored; the rest is recomputed when read")
            return False
        self._spill[key] = block
        self._spill_bytes += block.nbytes
        return True

    def writer(self) -> "ShardWriter":
        return ShardWriter(self)

    def fill(self, keys: Sequence[str], inputs: Sequence, compute: Callable[[list], list[np.ndarray]], batch_size: int = 32, on_batch: Callable[[int], None] | None = None) -> int:
        """Compute and store features for keys not cached yet; returns how many were computed.

        `compute(batch_of_inputs)` returns one `(rows, dim)` (or `(dim,)`) array per input.
        """
        todo: dict[str, object] = {}
        for key, item in zip(keys, inputs):
            if key not in self and key not in todo:
                todo[key] = item
        if not todo:
            return 0
        pending = list(todo.items())
        with self.writer() as writer:
            for start in range(0, len(pending), batch_size):
                chunk = pending[start : start + batch_size]
                outputs = compute([item for _, item in chunk])
                for (key, _), array in zip(chunk, outputs):
                    writer.add(key, array)
                if on_batch:
                    on_batch(len(chunk))
        return len(pending)

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.iterdir() if p.is_file()) if self.root.is_dir() else 0


class ShardWriter:
    """Collects items in memory and publishes them as shards of about `shard_bytes`; visible to readers only once published."""

    def __init__(self, ns: FeatureNamespace):
        self.ns = ns
        self.budget = ns.cache.budget if ns.cache is not None else None
        self.shard_bytes = cache_budget.DEFAULT_SHARD_BYTES
        if self.budget:
            self.shard_bytes = max(1, min(self.shard_bytes, self.budget // 16))
        self._pending: list[tuple[str, np.ndarray, bytes]] = []
        self._bytes = 0

    def add(self, key: str, array: np.ndarray) -> None:
        block, data = self.ns.encode(array)
        if self.budget is not None and len(data) > self.budget:
            notice("too-small", f"budget {human(self.budget)} is smaller than one item's features ({human(len(data))}); they are recomputed instead of stored")
            self.ns.remember(key, block)
            return
        self._pending.append((key, block, data))
        self._bytes += len(data)
        if self._bytes >= self.shard_bytes:
            self.flush()

    def _spill(self) -> None:
        for key, block, _ in self._pending:
            if not self.ns.remember(key, block):
                break

    def flush(self) -> None:
        """Publish the collected items as one shard (or keep them in memory when that is impossible)."""
        if not self._pending:
            return
        ns, cache = self.ns, self.ns.cache
        try:
            if not ns.writable:
                self._spill()
                return
            # `budget` is set only from a cache (see __init__), so `cache` is never None here.
            if self.budget is not None and cache is not None and not cache_budget.make_room(cache.root, self._bytes + 256 * len(self._pending), self.budget, cache.keep):
                notice("full", f"budget {human(self.budget)} is full with this run's own features; the rest is recomputed when read")
                self._spill()
                return
            self._publish()
        finally:
            self._pending, self._bytes = [], 0

    def _publish(self) -> None:
        ns = self.ns
        shard = f"shard-{uuid.uuid4().hex[:16]}"
        data_tmp, idx_tmp = ns.root / f"{shard}{ns.suffix}.tmp", ns.root / f"{shard}.idx.tmp"
        entries, offset = [], 0
        try:
            with open(data_tmp, "wb") as fh:
                for key, block, data in self._pending:
                    fh.write(data)
                    entries.append((key, offset, block.shape[0]))
                    offset += block.shape[0] if ns.codec == "f16" else len(data)
                fh.flush()
                os.fsync(fh.fileno())
            with open(idx_tmp, "w", encoding="utf-8") as fh:
                fh.writelines(json.dumps(entry) + "\n" for entry in entries)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(data_tmp, ns.root / f"{shard}{ns.suffix}")
            os.replace(idx_tmp, ns.root / f"{shard}.idx")
        except OSError as err:
            for path in (data_tmp, idx_tmp, ns.root / f"{shard}{ns.suffix}"):
                path.unlink(missing_ok=True)
            ns.writable = False
            notice("write", f"cannot write to {ns.root} ({err.strerror or err}); features are recomputed instead of stored")
            self._spill()
            return
        for key, offset, rows in entries:
            ns._index.setdefault(key, _Loc(shard, offset, rows))
        if ns.cache is not None:
            ns.cache.keep.add(ns.root / f"{shard}.idx")
        ns._touched.add(shard)

    def close(self) -> None:
        self.flush()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.close()
        else:  # an unfinished batch is dropped, never half-published
            self._pending, self._bytes = [], 0


class FeatureCache:
    """All namespaces under one root (`$POLYGLUE_CACHE/features` by default), optionally capped at `budget` bytes."""

    def __init__(self, root: Path | None = None, *, budget: int | None = None, spill_bytes: int = SPILL_BYTES):
        self.root = Path(root) if root else cache_root() / "features"
        self.budget = budget if budget is not None else cache_budget.budget_from_env()
        self.spill_bytes = spill_bytes
        self.keep: set[Path] = set()
        """Index files this process wrote or read: its working set, which it never evicts itself."""

    def namespace(self, identity: dict, dim: int, *, codec: str = "f16") -> FeatureNamespace:
        """Open (or create) the namespace for `identity`, a JSON-able description of the encoder config.

        `codec` (`f16`, `q8`) is part of the namespace key; fp16 namespaces keep the key they
        always had, so existing caches stay valid.
        """
        if codec not in CODECS:
            raise ValueError(f"unknown stored form '{codec}' (use one of {', '.join(CODECS)})")
        name = content_key(identity if codec == "f16" else {"identity": identity, "codec": codec})[:24]
        path = self.root / name
        meta_path = path / "meta.json"
        meta = {"identity": identity, "dim": dim, **({"codec": codec} if codec != "f16" else {})}
        try:
            if not meta_path.exists():
                path.mkdir(parents=True, exist_ok=True)
                tmp = path / f"meta.json.{uuid.uuid4().hex}"
                tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))
                os.replace(tmp, meta_path)
            meta = json.loads(meta_path.read_text())
        except OSError as err:
            notice("write", f"cannot write to {self.root} ({err.strerror or err}); features are recomputed instead of stored")
            return FeatureNamespace(path, meta, self, writable=False)
        if int(meta["dim"]) != dim:
            raise ValueError(f"feature namespace {name} has dim {meta['dim']}, not {dim}")
        return FeatureNamespace(path, meta, self, writable=os.access(path, os.W_OK))

    def list(self) -> list[dict]:
        """One entry per namespace: name, identity, items, bytes."""
        out: list[dict] = []
        if not self.root.exists():
            return out
        for path in sorted(p for p in self.root.iterdir() if (p / "meta.json").exists()):
            meta = json.loads((path / "meta.json").read_text())
            ns = FeatureNamespace(path, meta)
            out.append({"name": path.name, "identity": meta["identity"], "items": len(ns), "bytes": ns.size_bytes(), "dim": ns.dim, "codec": ns.codec})
        return out

    def clear(self, name: str | None = None) -> int:
        """Delete one namespace (or all); returns bytes freed."""
        targets = [self.root / name] if name else ([p for p in self.root.iterdir() if p.is_dir()] if self.root.exists() else [])
        freed = 0
        for path in targets:
            if path.exists():
                freed += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
                shutil.rmtree(path)
        return freed
