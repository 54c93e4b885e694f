"""In-memory models for `polyglue.evaluate`: what a Python caller may pass instead of a spec string.

* A transformers model with its tokenizer or feature extractor (`(model, tokenizer)`; a speech
  model alone is accepted): saved once under `$POLYGLUE_CACHE/models/<weights hash>/` and then
  evaluated exactly as `--model hf:<that folder>`, every protocol included.
* Any object implementing an encoder protocol:
  - text: `encode(texts: list[str]) -> (n_texts, dim)` array (numpy, or scipy sparse) — sentence
    vectors, so sentence- and pair-level cards run with the `probe` protocol;
  - speech: `forward(wavs) -> [(frames, layers, hidden)]` for 16 kHz float32 `(samples,)` waves,
    `shape() -> (layers, hidden)` and a `frame_shift_ms` attribute (`polyglue.speech.upstreams.Upstream`).
  Such an object lives in this process (local backend only); its identity is its name plus a
  hash of its weights (`state_dict()`), or of what its `identity()` method returns.

Identities go into unit keys, so an in-memory model resumes and never collides with another.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from polyglue.encoders import SPEECH_MODEL_TYPES, cache_root, lookup_object, register_object
from polyglue.errors import UserError

TEXT_PROTOCOL = {"encode": "encode(texts) -> (n_texts, dim) array"}
SPEECH_PROTOCOL = {
    "forward": "forward(wavs) -> [(frames, layers, hidden)]",
    "shape": "shape() -> (layers, hidden)",
    "frame_shift_ms": "frame_shift_ms (ms between output frames)",
}



def model_spec(label: str, model: Any) -> str:
    """The `--model` spec (with `label=`) for one entry of `evaluate(models={label: model})`."""
    if isinstance(model, str):
        return model if model == label else f"{label}={model}"
    pair = model if isinstance(model, tuple) else (model, None)
    if len(pair) != 2:
        raise UserError(f"model '{label}': a tuple must be (model, tokenizer or feature extractor); got {len(pair)} items")
    if _is_transformers_model(pair[0]):
        return f"{label}=hf:{save_transformers(label, *pair)}"
    if isinstance(model, tuple):
        raise UserError(f"model '{label}': a (model, tokenizer) pair needs a transformers PreTrainedModel, got {type(pair[0]).__name__}")
    modality = _check_protocol(label, model)
    object_id = f"{_safe(label)}-{weights_hash(model)}"
    register_object(object_id, model, modality)
    return f"{label}=object:{object_id}"


def _is_transformers_model(obj: Any) -> bool:
    return any(c.__module__.startswith("transformers.") and c.__name__ == "PreTrainedModel" for c in type(obj).__mro__)


def _check_protocol(label: str, obj: Any) -> str:
    """'text' or 'speech'; one line naming the missing method otherwise."""
    name = type(obj).__name__
    if callable(getattr(obj, "encode", None)):
        return "text"
    present = [m for m in SPEECH_PROTOCOL if hasattr(obj, m)]
    if present:
        missing = [m for m in SPEECH_PROTOCOL if m not in present]
        if missing:
            raise UserError(
                f"model '{label}': {name} does not implement the speech encoder protocol: missing {SPEECH_PROTOCOL[missing[0]]}"
            )
        return "speech"
    raise UserError(
        f"model '{label}': {name} does not implement an encoder protocol: missing method {TEXT_PROTOCOL['encode']} "
        f"(text) or {SPEECH_PROTOCOL['forward']} (speech); or pass a transformers model with its tokenizer"
    )


def weights_hash(obj: Any) -> str:
    """sha256 (32 hex) of an object's weights (`state_dict()`), else of its `identity()`."""
    digest = hashlib.sha256()
    state = obj.state_dict() if callable(getattr(obj, "state_dict", None)) else None
    if state is not None:
        import torch

        for key in sorted(state):
            tensor = state[key]
            digest.update(key.encode())
            if isinstance(tensor, torch.Tensor):
                digest.update(str(tensor.dtype).encode() + str(tuple(tensor.shape)).encode())
                digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
            else:
                digest.update(repr(tensor).encode())
        return digest.hexdigest()[:32]
    if callable(getattr(obj, "identity", None)):
        digest.update(json.dumps(obj.identity(), sort_keys=True, default=str).encode())
        return digest.hexdigest()[:32]
    raise UserError(
        f"{type(obj).__name__} has neither state_dict() nor identity(): polyglue cannot tell two such objects apart, "
        "so their units could not resume; add an identity() method returning what determines the outputs"
    )


def save_transformers(label: str, model: Any, processor: Any | None) -> str:
    """Save a transformers model (+ tokenizer / feature extractor) once, keyed by its weights; returns the folder."""
    speech = model.config.model_type in SPEECH_MODEL_TYPES
    if processor is None and not speech:
        raise UserError(f"model '{label}': a text model needs its tokenizer: pass (model, tokenizer)")
    digest = hashlib.sha256(weights_hash(model).encode())
    digest.update(model.config.to_json_string().encode())
    if processor is not None:
        digest.update(type(processor).__name__.encode())
        digest.update(json.dumps(_processor_state(processor), sort_keys=True, default=str).encode())
    folder = cache_root() / "models" / digest.hexdigest()[:32]
    done = folder / ".complete"
    if not done.exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".saving-"))
        model.save_pretrained(tmp)
        if processor is not None:
            processor.save_pretrained(tmp)
        (tmp / ".complete").write_text(label)
        try:
            os.rename(tmp, folder)  # atomic: a folder is complete or absent
        except OSError:  # another process saved the same weights first
            shutil.rmtree(tmp, ignore_errors=True)
    return str(folder)


def _processor_state(processor: Any) -> Any:
    to_dict = getattr(processor, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    vocab = getattr(processor, "get_vocab", None)
    return sorted(vocab().items()) if callable(vocab) else type(processor).__name__


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_")[:40] or "model"


def text_factory(spec, ctx):
    """The `object` kind's text factory: the caller's object itself (it has `encode`)."""
    obj, modality = lookup_object(spec.target)
    if modality != "text":
        raise UserError(f"'{spec.label}' is a speech encoder, not a text encoder")
    return obj


class _ObjectUpstream:
    """A caller's speech object seen as an `Upstream`: its identity is the object id."""

    def __init__(self, obj: Any, label: str, object_id: str):
        self.obj, self.label, self.object_id = obj, label, object_id
        self.frame_shift_ms = float(obj.frame_shift_ms)

    def identity(self) -> dict:
        return {"object": self.object_id}

    def shape(self) -> tuple[int, int]:
        layers, hidden = self.obj.shape()
        return int(layers), int(hidden)

    def forward(self, wavs):
        return self.obj.forward(wavs)


def speech_factory(spec, *, device: str = "cpu"):
    """The `object` kind's speech factory."""
    obj, modality = lookup_object(spec.target)
    if modality != "speech":
        raise UserError(f"'{spec.label}' is a text encoder, not a speech upstream")
    return _ObjectUpstream(obj, spec.label, spec.target)
