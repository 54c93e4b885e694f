"""Frozen upstream features on disk: every layer of every utterance, once.

One namespace of the polyglue feature cache per upstream configuration (its identity:
weights hash or revision, preprocessing, sample rate). Each utterance is one
`(frames, layers * hidden)` float16 block keyed by the sha256 of its file's bytes, so
renamed or moved files hit the cache and edited ones miss it. A second run over cached
audio loads no model and runs no forward pass. Stored size: 2 bytes per value (`fp16`) or
1 byte per value plus 4 bytes per channel per utterance (`int8`, per-channel quantised:
`--feature-storage int8`), plus one JSON index line per utterance.

With a cache budget, an utterance whose features were evicted or never stored is
recomputed when read (one forward pass of that utterance), so a small budget costs time,
never the run.

File hashes are memoised per folder on (name, size, mtime), like model-folder hashes, so a
large corpus is read once, not on every run.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Callable

import numpy as np

from polyglue.features import FeatureCache, MissingFeatures
from polyglue.speech.audio import file_hash, read_audio
from polyglue.speech.corpus import Utterance
from polyglue.speech.upstreams import Upstream

BATCH_SECONDS = 160.0
"""Audio handed to the upstream per call (it may split it further)."""

STORAGE = {"fp16": "f16", "int8": "q8"}
"""`--feature-storage` names -> the feature cache's codecs."""


class AudioHashes:
    """sha256 of audio files, memoised in `<cache>/audio-hashes/` on (path, size, mtime_ns)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._folders: dict[Path, dict] = {}
        self._dirty: set[Path] = set()

    def _memo_path(self, folder: Path) -> Path:
        from polyglue.features import content_key

        return self.root / f"{content_key(str(folder))[:32]}.json"

    def _folder(self, folder: Path) -> dict:
        if folder not in self._folders:
            path = self._memo_path(folder)
            try:
                self._folders[folder] = json.loads(path.read_text()) if path.exists() else {}
            except ValueError:
                self._folders[folder] = {}
        return self._folders[folder]

    def __call__(self, path: Path) -> str:
        path = Path(path).resolve()
        stat = path.stat()
        memo = self._folder(path.parent)
        stamp = [stat.st_size, stat.st_mtime_ns]
        entry = memo.get(path.name)
        if entry is not None and entry[:2] == stamp:
            return entry[2]
        digest = file_hash(path)
        memo[path.name] = [*stamp, digest]
        self._dirty.add(path.parent)
        return digest

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for folder in self._dirty:
            target = self._memo_path(folder)
            tmp = target.with_suffix(f".{uuid.uuid4().hex}.tmp")
            tmp.write_text(json.dumps(self._folders[folder]))
            os.replace(tmp, target)
        self._dirty.clear()


class UpstreamFeatures:
    """All hidden states of one upstream for a set of utterances, cached on disk.

    `prepare(utterances)` computes what is missing; `read(utterance)` returns its
    `(frames, layers, hidden)` float16 block (a private copy, optionally a crop).
    """

    def __init__(self, upstream: Upstream, cache: FeatureCache, storage: str = "fp16", effects=None):
        if storage not in STORAGE:
            raise ValueError(f"feature storage '{storage}': use one of {', '.join(STORAGE)}")
        self.upstream = upstream
        self.storage = storage
        self.effects = effects
        """Optional waveform effects before the upstream (`speech.effects.SoxEffects`); part of the key."""
        self.layers, self.hidden = upstream.shape()
        identity = upstream.identity() if effects is None else {**upstream.identity(), "effects": effects.identity()}
        self.ns = cache.namespace(identity, self.layers * self.hidden, codec=STORAGE[storage])
        self._trimmed: dict[str, int] | None = None
        self.hashes = AudioHashes(cache.root.parent / "audio-hashes")
        self.keys: dict[str, str] = {}
        self._paths: dict[str, Path] = {}
        self.stats = {"computed": 0, "cached": 0, "recomputed": 0, "forward_calls": 0, "hash_s": 0.0, "extract_s": 0.0}

    @property
    def namespace(self) -> str:
        return self.ns.root.name

    def key(self, utt: Utterance) -> str:
        return self.keys[utt.id]

    def prepare(self, utterances: list[Utterance], step: Callable | None = None) -> int:
        """Hash every file, run the upstream on the ones not cached yet; returns how many were computed."""
        t0 = time.perf_counter()
        todo: dict[str, Utterance] = {}
        for utt in utterances:
            if utt.id not in self.keys:
                self.keys[utt.id] = self.hashes(utt.path)
            key = self.keys[utt.id]
            self._paths.setdefault(key, Path(utt.path))
            if key not in self.ns and key not in todo:
                todo[key] = utt
        self.hashes.save()
        self.stats["hash_s"] += time.perf_counter() - t0
        self.stats["cached"] += len({self.keys[u.id] for u in utterances}) - len(todo)
        if not todo:
            return 0
        t0 = time.perf_counter()
        if step:
            step(0, len(todo), f"extracting {self.upstream.label} features of {len(todo)} utterances")
        items = sorted(todo.items(), key=lambda kv: kv[1].id)
        with self.ns.writer() as writer:
            batch: list[tuple[str, np.ndarray]] = []
            seconds = 0.0
            for key, utt in items:
                wav = read_audio(utt.path)
                if self.effects is not None:
                    wav = self._apply_effects(key, wav)
                    if not len(wav):
                        continue  # trimmed to nothing: no features; `samples_after_effects` says 0
                batch.append((key, wav))
                seconds += len(wav) / 16000
                if seconds >= BATCH_SECONDS:
                    self._run(batch, writer, step)
                    batch, seconds = [], 0.0
            if batch:
                self._run(batch, writer, step)
        if self.effects is not None:
            self._save_trimmed()
        self.stats["computed"] += len(items)
        self.stats["extract_s"] += time.perf_counter() - t0
        return len(items)

    def _run(self, batch: list[tuple[str, np.ndarray]], writer, step) -> None:
        self.stats["forward_calls"] += 1
        outputs = self.upstream.forward([wav for _, wav in batch])
        for (key, _), feats in zip(batch, outputs):
            frames = feats.shape[0]
            writer.add(key, feats.reshape(frames, self.layers * self.hidden))  # size (frames, layers * hidden)
        if step:
            step(len(batch))

    def _recompute(self, key: str) -> np.ndarray:
        """Features of one utterance that is not in the cache (evicted, or over the budget), as they read back when stored."""
        t0 = time.perf_counter()
        self.stats["forward_calls"] += 1
        self.stats["recomputed"] += 1
        wav = read_audio(self._paths[key])
        if self.effects is not None:
            wav = self._apply_effects(key, wav)
        feats = self.upstream.forward([wav])[0]
        block, _ = self.ns.encode(feats.reshape(feats.shape[0], self.layers * self.hidden))
        self.ns.remember(key, block)
        self.stats["extract_s"] += time.perf_counter() - t0
        return block

    # ------------------------------------------------------------------ effects

    def _trimmed_path(self) -> Path:
        return self.ns.root / "samples-after-effects.json"

    def _trimmed_map(self) -> dict[str, int]:
        if self._trimmed is None:
            path = self._trimmed_path()
            try:
                self._trimmed = json.loads(path.read_text()) if path.exists() else {}
            except ValueError:
                self._trimmed = {}
        return self._trimmed

    def _apply_effects(self, key: str, wav: np.ndarray) -> np.ndarray:
        out = self.effects(wav)
        self._trimmed_map()[key] = int(len(out))
        return out

    def _save_trimmed(self) -> None:
        path = self._trimmed_path()
        merged = {**(json.loads(path.read_text()) if path.exists() else {}), **self._trimmed_map()}
        tmp = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(merged))
        os.replace(tmp, path)

    def samples_after_effects(self, utt: Utterance) -> int:
        """Samples left after the effects (0: trimmed to nothing, no features); the raw length without effects."""
        key = self.keys[utt.id]
        known = self._trimmed_map()
        if key not in known:
            wav = read_audio(utt.path)
            if self.effects is None:
                return len(wav)
            self._apply_effects(key, wav)
            self._save_trimmed()
        return known[key]

    def frames(self, utt: Utterance) -> int:
        key = self.keys[utt.id]
        try:
            return self.ns.rows(key)
        except MissingFeatures:
            return self._recompute(key).shape[0]

    def read(self, utt: Utterance, start: int = 0, frames: int | None = None) -> np.ndarray:
        """`(frames, layers, hidden)` float16, rows `[start, start + frames)` of the utterance."""
        key = self.keys[utt.id]
        try:
            block = self.ns.read(key, start, frames)
        except MissingFeatures:
            full = self._recompute(key)
            block = full[start : None if frames is None else start + frames].copy()
        return block.reshape(block.shape[0], self.layers, self.hidden)

    def size_bytes(self) -> int:
        return self.ns.size_bytes()
