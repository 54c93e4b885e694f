"""Encoder specs as `--model` takes them, for both modalities, and their identity.

`bow`, `hf:<hub id or local path>`, `fbank`, `s3prl:<name>`; an optional `label=` prefix
names the row in reports (`--model tiny=hf:/tmp/tiny-bert`). The identity that goes into
unit keys and cache keys is the weights themselves (a hash of a local folder) or the hub
id plus revision — never just a display name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from polyglue.errors import UserError

KINDS = {
    "bow": "text: hashed word and character n-grams, no weights (the GLUE-style baseline)",
    "hf": "text or speech: a Hugging Face model (hub id or local folder), frozen or fine-tuned",
    "fbank": "speech: Kaldi fbank 80 + deltas, CMVN (the SUPERB/IndicSUPERB baseline), no weights",
    "s3prl": "speech: an s3prl upstream by name (optional extra `polyglue[s3prl]`)",
}

#: Hugging Face `model_type`s that are speech upstreams; every other type is a text encoder.
SPEECH_MODEL_TYPES = frozenset({"wav2vec2", "hubert", "wavlm", "data2vec-audio", "wav2vec2-conformer", "unispeech", "unispeech-sat", "sew", "sew-d"})

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".json", ".model", ".txt", ".pt")


@dataclass(frozen=True)
class EncoderSpec:
    """A parsed `--model` value."""

    label: str
    kind: str
    target: str | None = None
    revision: str | None = None

    @property
    def spec(self) -> str:
        return self.kind if self.target is None else f"{self.kind}:{self.target}{'@' + self.revision if self.revision else ''}"

    @property
    def local_path(self) -> Path | None:
        if self.kind == "hf" and self.target and Path(self.target).expanduser().exists():
            return Path(self.target).expanduser().resolve()
        return None

    def modalities(self) -> set[str]:
        """Which card modalities this encoder can run on."""
        if self.kind == "bow":
            return {"text"}
        if self.kind in ("fbank", "s3prl"):
            return {"speech"}
        path = self.local_path
        if path is not None and (path / "config.json").exists():
            try:
                model_type = json.loads((path / "config.json").read_text()).get("model_type", "")
            except (OSError, ValueError):
                model_type = ""
            return {"speech"} if model_type in SPEECH_MODEL_TYPES else {"text"}
        return {"text", "speech"}

    def identity(self) -> str:
        """What determines this encoder's outputs: weights hash, or hub id + revision."""
        if self.kind in ("bow", "fbank"):
            return self.kind
        if self.kind == "s3prl":
            name, _, local = (self.target or "").partition("@")
            if local and Path(local).expanduser().exists():
                return f"s3prl:{name}@{folder_hash(Path(local).expanduser())}"  # the checkpoint, not its path
            return f"s3prl:{self.target}"
        path = self.local_path
        if path is not None:
            return f"hf-local:{folder_hash(path)}"
        return f"hf:{self.target}@{self.revision or 'unpinned'}"

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.label).strip("_")[:80] or self.kind


def parse_encoder(value: str) -> EncoderSpec:
    """Parse `[label=]kind[:target[@revision]]`; unknown kinds are a UserError listing the known ones."""
    label = None
    if "=" in value.split(":", 1)[0]:
        label, value = value.split("=", 1)
    kind, _, target = value.partition(":")
    if kind not in KINDS:
        raise UserError(f"unknown model '{value}'; use one of: bow, hf:<hub id or path>, fbank, s3prl:<name>")
    if kind in ("bow", "fbank") and target:
        raise UserError(f"'{kind}' takes no argument (got '{value}')")
    if kind in ("hf", "s3prl") and not target:
        raise UserError(f"'{kind}:' needs a name, e.g. {kind}:{'bert-base-cased' if kind == 'hf' else 'fbank'}")
    revision = None
    if kind == "hf" and "@" in target and not Path(target).exists():
        target, revision = target.rsplit("@", 1)
    if kind == "hf" and target.startswith(("/", ".", "~")) and not Path(target).expanduser().exists():
        raise UserError(f"model folder not found: {target}")
    return EncoderSpec(label=label or value, kind=kind, target=target or None, revision=revision)


def folder_hash(path: Path) -> str:
    """sha256 over the files that define a local model (weights, configs, vocabularies), or of one checkpoint file.

    Memoised on (path, size, mtime) in the polyglue cache so large folders are read once.
    """
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _WEIGHT_SUFFIXES)
    base = path.parent if path.is_file() else path
    stamp = hashlib.sha256(
        json.dumps([(str(p.relative_to(base)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]).encode()
    ).hexdigest()
    memo = cache_root() / "identity" / f"{stamp}.txt"
    if memo.exists():
        return memo.read_text().strip()
    digest = hashlib.sha256()
    for p in files:
        digest.update(str(p.relative_to(base)).encode())
        with open(p, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    value = digest.hexdigest()[:32]
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.write_text(value)
    return value


def cache_root() -> Path:
    """`$POLYGLUE_CACHE`, default `~/.cache/polyglue`."""
    return Path(os.environ.get("POLYGLUE_CACHE", Path.home() / ".cache" / "polyglue")).expanduser()
