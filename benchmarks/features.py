"""Content-addressed cache of frozen features, fp16 and memory-mapped.

A *namespace* is everything that determines features except the input: encoder identity
(weights hash or hub revision), layer set, pooling, preprocessing. Inside it, each item
(a sentence, an utterance) is keyed by the hash of its content, never by a file name, so
another model's or another input's features can never be served.

Layout: `<root>/<namespace>/meta.json` plus shards. A shard is `shard-<id>.f16` (raw
float16 rows, each item a `(rows, dim)` block) and `shard-<id>.idx` (one JSON line per
item: key, offset, rows). Writers append to a private `.tmp` shard and rename it when
done, so a crash leaves no half-written shard visible, and concurrent writers (Ray
workers) never touch the same file. Reads are `np.memmap` views: training on cached
features does not load the corpus into memory.
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

from polyglue.encoders import cache_root

DTYPE = np.float16


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


@dataclass(frozen=True)
class _Loc:
    shard: str
    offset: int  # in rows
    rows: int


class FeatureNamespace:
    """The cached features of one encoder configuration; `dim` values per row."""

    def __init__(self, root: Path, meta: dict):
        self.root = Path(root)
        self.meta = meta
        self.dim = int(meta["dim"])
        self._index: dict[str, _Loc] = {}
        self._maps: dict[str, np.memmap] = {}
        self._fds: dict[str, int] = {}
        self._load_index()

    # ------------------------------------------------------------------ index

    def _load_index(self) -> None:
        """Index every shard; entries a garbled index line or a truncated shard cannot back are dropped
        (with one warning line per shard) and so recomputed, instead of crashing every later run."""
        row_bytes = self.dim * np.dtype(DTYPE).itemsize
        for idx in sorted(self.root.glob("shard-*.idx")):
            shard = idx.stem
            data = self.root / f"{shard}.f16"
            if not data.exists():
                continue
            available = data.stat().st_size // row_bytes if row_bytes else 0
            dropped = 0
            with open(idx, "rb") as fh:
                for raw in fh:
                    entry = _index_entry(raw)
                    if entry is None or entry[1] + entry[2] > available:
                        dropped += 1
                        continue
                    key, offset, rows = entry
                    self._index.setdefault(key, _Loc(shard, offset, rows))
            if dropped:
                print(f"warning: feature cache {data}: {dropped} entr{'y' if dropped == 1 else 'ies'} garbled or truncated; "
                      f"dropped, they will be recomputed", file=sys.stderr)

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def __len__(self) -> int:
        return len(self._index)

    def missing(self, keys: Iterable[str]) -> list[str]:
        return [k for k in dict.fromkeys(keys) if k not in self._index]

    # ------------------------------------------------------------------ read

    def _map(self, shard: str) -> np.memmap:
        if shard not in self._maps:
            path = self.root / f"{shard}.f16"
            rows = path.stat().st_size // (2 * self.dim)
            self._maps[shard] = np.memmap(path, dtype=DTYPE, mode="r", shape=(rows, self.dim))
        return self._maps[shard]

    def get(self, key: str) -> np.ndarray:
        """The `(rows, dim)` float16 block of one item (a memory-mapped view, not a copy)."""
        loc = self._index[key]
        return self._map(loc.shard)[loc.offset : loc.offset + loc.rows]

    def rows(self, key: str) -> int:
        return self._index[key].rows

    def read(self, key: str, start: int = 0, rows: int | None = None) -> np.ndarray:
        """A private copy of rows `[start, start + rows)` of one item, read with `pread`.

        Unlike `get`, nothing stays mapped: streaming a corpus many times (head training)
        keeps the process's resident memory at the size of a batch, not of the corpus.
        """
        loc = self._index[key]
        rows = loc.rows - start if rows is None else min(rows, loc.rows - start)
        if start < 0 or rows < 0:
            raise ValueError(f"rows [{start}, {start + rows}) are outside item {key[:12]} ({loc.rows} rows)")
        fd = self._fds.get(loc.shard)
        if fd is None:
            fd = self._fds[loc.shard] = os.open(self.root / f"{loc.shard}.f16", os.O_RDONLY)
        out = np.empty((rows, self.dim), dtype=DTYPE)
        nbytes = out.nbytes
        if nbytes and os.preadv(fd, [memoryview(out).cast("B")], (loc.offset + start) * self.dim * 2) != nbytes:
            raise OSError(f"short read in {self.root / loc.shard}.f16 (truncated cache shard?)")
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

    def writer(self) -> "ShardWriter":
        return ShardWriter(self)

    def fill(self, keys: Sequence[str], inputs: Sequence, compute: Callable[[list], list[np.ndarray]], batch_size: int = 32, on_batch: Callable[[int], None] | None = None) -> int:
        """Compute and store features for keys not cached yet; returns how many were computed.

        `compute(batch_of_inputs)` returns one `(rows, dim)` (or `(dim,)`) array per input.
        """
        todo: dict[str, object] = {}
        for key, item in zip(keys, inputs):
            if key not in self._index and key not in todo:
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
        return sum(p.stat().st_size for p in self.root.iterdir() if p.is_file())


class ShardWriter:
    """Appends items to a private shard; visible to readers only after `close()`."""

    def __init__(self, ns: FeatureNamespace):
        self.ns = ns
        self.shard = f"shard-{uuid.uuid4().hex[:16]}"
        self._data = open(ns.root / f"{self.shard}.f16.tmp", "wb")
        self._entries: list[tuple[str, int, int]] = []
        self._offset = 0

    def add(self, key: str, array: np.ndarray) -> None:
        block = np.asarray(array, dtype=DTYPE)
        if block.ndim == 1:
            block = block[None, :]
        if block.ndim != 2 or block.shape[1] != self.ns.dim:
            raise ValueError(f"feature block of shape {block.shape} does not fit dim {self.ns.dim}")
        if not np.isfinite(block).all():
            raise ValueError("features contain inf/nan after fp16 conversion (values beyond ±65504?)")
        self._data.write(np.ascontiguousarray(block).tobytes())
        self._entries.append((key, self._offset, block.shape[0]))
        self._offset += block.shape[0]

    def close(self) -> None:
        self._data.flush()
        os.fsync(self._data.fileno())
        self._data.close()
        root, shard = self.ns.root, self.shard
        if not self._entries:
            os.remove(root / f"{shard}.f16.tmp")
            return
        with open(root / f"{shard}.idx.tmp", "w", encoding="utf-8") as fh:
            for entry in self._entries:
                fh.write(json.dumps(entry) + "\n")
        os.replace(root / f"{shard}.f16.tmp", root / f"{shard}.f16")
        os.replace(root / f"{shard}.idx.tmp", root / f"{shard}.idx")
        for key, offset, rows in self._entries:
            self.ns._index.setdefault(key, _Loc(shard, offset, rows))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.close()
        else:  # leave nothing half-written behind
            self._data.close()
            for suffix in (".f16.tmp", ".idx.tmp"):
                (self.ns.root / f"{self.shard}{suffix}").unlink(missing_ok=True)


class FeatureCache:
    """All namespaces under one root (`$POLYGLUE_CACHE/features` by default)."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else cache_root() / "features"

    def namespace(self, identity: dict, dim: int) -> FeatureNamespace:
        """Open (or create) the namespace for `identity`, a JSON-able description of the encoder config."""
        name = content_key(identity)[:24]
        path = self.root / name
        meta_path = path / "meta.json"
        if not meta_path.exists():
            path.mkdir(parents=True, exist_ok=True)
            tmp = path / f"meta.json.{uuid.uuid4().hex}"
            tmp.write_text(json.dumps({"identity": identity, "dim": dim}, indent=1, sort_keys=True))
            os.replace(tmp, meta_path)
        meta = json.loads(meta_path.read_text())
        if int(meta["dim"]) != dim:
            raise ValueError(f"feature namespace {name} has dim {meta['dim']}, not {dim}")
        return FeatureNamespace(path, meta)

    def list(self) -> list[dict]:
        """One entry per namespace: name, identity, items, bytes."""
        out = []
        if not self.root.exists():
            return out
        for path in sorted(p for p in self.root.iterdir() if (p / "meta.json").exists()):
            meta = json.loads((path / "meta.json").read_text())
            ns = FeatureNamespace(path, meta)
            out.append({"name": path.name, "identity": meta["identity"], "items": len(ns), "bytes": ns.size_bytes(), "dim": ns.dim})
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
