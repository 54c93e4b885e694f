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
from dataclasses import dataclass, replace
from pathlib import Path

from polyglue.errors import UserError
from polyglue.hashing import file_sha256

@dataclass(frozen=True)
class EncoderKind:
    """One kind of `--model` spec: the modalities it serves and the factory that builds it per modality.

    Factories are `"module:callable"` names imported only when a unit runs, so listing and
    validating stay light. A text factory is called as `factory(spec, ctx)` and returns an
    object with `encode(texts) -> (n_texts, dim)` matrix; a speech factory as
    `factory(spec, device=...)` and returns a `polyglue.speech.upstreams.Upstream`.
    Plugins register more kinds through the `polyglue.encoders` entry point group.
    """

    name: str
    description: str
    modalities: frozenset[str]
    text_factory: str | None = None
    speech_factory: str | None = None
    takes_target: bool = False
    """`kind:<target>` (a hub id, a path, a name) rather than the bare kind."""
    has_weights: bool = False
    """Transformers weights: fine-tunable, with token-level states. Weight-free kinds probe."""
    package: str = "polyglue"
    version: str = ""
    """For weight-free kinds: bumped when the features change, so the identity (and every
    unit key and feature-cache key built on it) never mixes old outputs with new ones."""

    def factory(self, modality: str) -> str | None:
        return self.text_factory if modality == "text" else self.speech_factory


BUILTIN_KINDS: tuple[EncoderKind, ...] = (
    EncoderKind(
        "bow", "text: hashed word and character n-grams, no weights (the GLUE-style baseline)", frozenset({"text"}),
        text_factory="polyglue.langkits.encoders.bow:build", version="2",  # 2: numpy n-gram hashing
    ),
    EncoderKind(
        "hf", "text or speech: a Hugging Face model (hub id or local folder), frozen or fine-tuned", frozenset({"text", "speech"}),
        text_factory="polyglue.langkits.encoders.hf_text:build", speech_factory="polyglue.speech.upstreams.hf:build",
        takes_target=True, has_weights=True,
    ),
    EncoderKind(
        "fbank", "speech: Kaldi fbank 80 + deltas, CMVN (the SUPERB/IndicSUPERB baseline), no weights", frozenset({"speech"}),
        speech_factory="polyglue.speech.upstreams.fbank:build",
    ),
    EncoderKind(
        "s3prl", "speech: an s3prl upstream by name (optional extra `polyglue[s3prl]`)", frozenset({"speech"}),
        speech_factory="polyglue.speech.upstreams.s3prl_upstream:build", takes_target=True,
    ),
    EncoderKind(
        "object", "text or speech: an in-memory encoder object passed to polyglue.evaluate", frozenset({"text", "speech"}),
        text_factory="polyglue.objects:text_factory", speech_factory="polyglue.objects:speech_factory", takes_target=True,
    ),
)


def kinds(*, plugins: bool = True) -> dict[str, EncoderKind]:
    """Every encoder kind: built-in, then plugins' (a plugin cannot replace a built-in kind)."""
    out = {k.name: k for k in BUILTIN_KINDS}
    if plugins:
        from polyglue import plugins as plugin_lib

        for item in plugin_lib.load("polyglue.encoders"):
            if item.error is None and isinstance(item.obj, EncoderKind) and item.obj.name not in out:
                out[item.obj.name] = replace(item.obj, package=item.package)
    return out


def plugin_problems() -> dict[str, str]:
    """Encoder plugins that could not be used, by entry point name -> one-line reason."""
    from polyglue import plugins as plugin_lib

    builtin = {k.name for k in BUILTIN_KINDS}
    problems = {}
    for item in plugin_lib.load("polyglue.encoders"):
        if item.error is not None:
            problems[item.name] = f"{item.package}: failed to import {item.value}: {item.error}"
        elif not isinstance(item.obj, EncoderKind):
            problems[item.name] = f"{item.package}: {item.value} is a {type(item.obj).__name__}, not a polyglue.encoders.EncoderKind"
        elif item.obj.name in builtin:
            problems[item.name] = f"{item.package}: kind '{item.obj.name}' is built in and cannot be replaced"
    return problems


def kind_of(name: str, spec: str | None = None) -> EncoderKind:
    """The kind called `name` (of the `--model` value `spec`); one clear line when unknown or its plugin is broken."""
    builtin = {k.name: k for k in BUILTIN_KINDS}
    if name in builtin:
        return builtin[name]
    found = kinds()
    if name in found:
        return found[name]
    broken = plugin_problems()
    if name in broken:
        raise UserError(f"model kind '{name}' comes from a plugin that cannot be used ({broken[name]})")
    known = ", ".join(k if not v.takes_target else f"{k}:<...>" for k, v in found.items() if k != "object")
    raise UserError(f"unknown model '{spec or name}'; use one of: {known} (`bench list models` shows them)")


_OBJECTS: dict[str, tuple[object, str]] = {}
"""Object id -> (object, modality): in-memory encoders of this process (`polyglue.objects`)."""


def register_object(object_id: str, obj: object, modality: str) -> None:
    _OBJECTS[object_id] = (obj, modality)


def lookup_object(object_id: str) -> tuple[object, str]:
    """The in-memory encoder behind an `object:<id>` spec."""
    if object_id not in _OBJECTS:
        raise UserError(
            f"in-memory model '{object_id}' is not in this process: objects passed to polyglue.evaluate run on the local backend only"
        )
    return _OBJECTS[object_id]


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
    def info(self) -> EncoderKind:
        """This spec's kind: the one place that knows what a kind can do."""
        return kind_of(self.kind)

    @property
    def has_weights(self) -> bool:
        return self.info.has_weights

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
        if self.kind == "object":
            return {lookup_object(self.target or "")[1]}
        if self.kind != "hf":
            return set(self.info.modalities)
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
        if not self.info.takes_target:
            return f"{self.kind}@v{self.info.version}" if self.info.version else self.kind
        if self.kind == "object":
            return f"object:{self.target}"
        if self.kind == "s3prl":
            name, _, local = (self.target or "").partition("@")
            if local and Path(local).expanduser().exists():
                return f"s3prl:{name}@{folder_hash(Path(local).expanduser())}"  # the checkpoint, not its path
            return f"s3prl:{self.target}"
        if self.kind != "hf":
            return f"{self.kind}:{self.target}@{self.revision or 'unpinned'}"
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
    info = kind_of(kind, value)
    if not info.takes_target and target:
        raise UserError(f"'{kind}' takes no argument (got '{value}')")
    if info.takes_target and not target:
        example = {"hf": "bert-base-cased", "s3prl": "fbank"}.get(kind, "<name>")
        raise UserError(f"'{kind}:' needs a name, e.g. {kind}:{example}")
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
        file_sha256(p, digest)
    value = digest.hexdigest()[:32]
    memo.parent.mkdir(parents=True, exist_ok=True)
    memo.write_text(value)
    return value


def cache_root() -> Path:
    """`$POLYGLUE_CACHE`, default `~/.cache/polyglue`."""
    return Path(os.environ.get("POLYGLUE_CACHE", Path.home() / ".cache" / "polyglue")).expanduser()
