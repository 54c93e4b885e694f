"""Content hashes, one definition each: of JSON-able values (unit keys, card and suite hashes)
and of files (mirror manifests, audio cache keys, user kits, model folders)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def json_sha256(obj, *, ensure_ascii: bool = False) -> str:
    """sha256 hex of a JSON-able value, keys sorted (stable across runs and processes).

    Card, suite and definition hashes were first written with ASCII escapes (`ensure_ascii=True`);
    they keep it so that stored results stay matched to their cards.
    """
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=ensure_ascii).encode()).hexdigest()


def file_sha256(path: Path, digest=None, chunk: int = 1 << 20) -> str:
    """sha256 hex of a file's bytes, read in chunks; pass `digest` to fold several files into one."""
    own = digest is None
    digest = hashlib.sha256() if own else digest
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def trainable_sha256(model) -> str:
    """sha256 of a model's trainable parameters (names and bytes), taken as initialised: equal across
    units with the same init seed, different when the seed changes the head's (or adapters') weights."""
    digest = hashlib.sha256()
    for name, p in model.named_parameters():
        if p.requires_grad:
            digest.update(name.encode())
            digest.update(p.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()
