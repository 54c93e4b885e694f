"""One PEFT adapter layer for every protocol that trains through the `peft` library.

Text `lora`, `prompt` and `prefix` units and the speech `(asr, lora)` unit all do the same
four things around their own training loop, so they do them here, once:

* build the `peft` config of the protocol from its card block (`protocol.lora`,
  `protocol.prompt`, `protocol.prefix`) and wrap each fresh model (`PeftAdapter.wrap`);
* keep the task head trainable in full (`modules_to_save`: every top-level module outside
  the pretrained encoder, found from the model, not from the task);
* count parameters: total (pretrained + added), trainable, adapter (what `peft` added and
  trains), head, frozen;
* hand the trained adapter and head to the driver as `peft` files plus
  `polyglue_adapter.json` (base model, head class, labels), which `load_trained` rebuilds.

A setting that does not fit the model is a `UserError` naming the card field, raised at
planning where the model's config can be read (`check_targets`, `check_prefix_support`) and
again when the model is wrapped. Heavy imports stay inside functions.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from polyglue.errors import UserError

ADAPTER_INFO = "polyglue_adapter.json"

#: Card block and command-line flag of each setting, for error messages.
FLAGS = {
    "lora": {"r": "--lora-r", "alpha": "--lora-alpha", "dropout": "--lora-dropout", "target_modules": "--lora-targets", "recipe": "--recipe"},
    "prompt": {"num_virtual_tokens": "--virtual-tokens", "init": "--prompt-init", "init_text": "--prompt-init-text"},
    "prefix": {"num_virtual_tokens": "--virtual-tokens", "projection": "--prefix-projection", "encoder_hidden_size": "--prefix-hidden"},
}

#: `peft` task type per transformers head class (prompt learning needs one; LoRA does not).
TASK_TYPES = {
    "SequenceClassification": "SEQ_CLS",
    "TokenClassification": "TOKEN_CLS",
    "QuestionAnswering": "QUESTION_ANS",
}

DESCRIPTIONS = {
    "lora": "lora: low-rank adapters (peft), task head trained in full",
    "prompt": "prompt: soft prompt tuning (peft), task head trained in full",
    "prefix": "prefix: prefix tuning of every attention layer (peft), task head trained in full",
}


def peft_lib(protocol: str = "lora") -> Any:
    try:
        import peft
    except ImportError:
        raise UserError(f"the {protocol} protocol needs the peft library: pip install 'polyglue[peft]'") from None
    return peft


def field(kind: str, key: str | None = None) -> str:
    """`protocol.<kind>.<key> (or --flag)`: where a setting is written."""
    if key is None:
        return f"protocol.{kind} (--protocol {kind})"
    flag = FLAGS.get(kind, {}).get(key)
    return f"protocol.{kind}.{key}" + (f" (or {flag})" if flag else "")


def encoder_of(model: Any) -> Any:
    return getattr(model, getattr(model, "base_model_prefix", ""), model)


def head_modules(model: Any) -> list[str]:
    """Top-level modules with weights outside the encoder: the task head, trained in full."""
    prefix = getattr(model, "base_model_prefix", "")
    return [name for name, child in model.named_children() if name != prefix and any(True for _ in child.parameters())]


def linear_names(module: Any) -> list[str]:
    """The distinct last names of the encoder's linear layers (what `target_modules` may name)."""
    import torch

    return sorted({name.rsplit(".", 1)[-1] for name, m in module.named_modules() if isinstance(m, torch.nn.Linear) and name})


def missing_targets(targets: list[str], module_names: list[str]) -> list[str]:
    """The targets that match no module (peft matches a name exactly or as its dotted suffix)."""
    return [t for t in targets if not any(n == t or n.endswith("." + t) for n in module_names)]


def targets_error(card_name: str, label: str, missing: list[str], encoder: Any) -> UserError:
    return UserError(
        f"card '{card_name}' field {field('lora', 'target_modules')}: {', '.join(repr(m) for m in missing)} "
        f"match(es) no module of '{label}' (its linear layers: {', '.join(linear_names(encoder))})"
    )


def _meta_encoder(spec: Any) -> Any | None:
    """The encoder built on torch's meta device from its config (no weights read); None when unreadable."""
    if not getattr(spec, "has_weights", False) or spec.local_path is None:
        return None
    from polyglue.torch_compat import prepare

    prepare()
    import torch
    import transformers

    try:
        config = transformers.AutoConfig.from_pretrained(str(spec.local_path))
        with torch.device("meta"):
            return transformers.AutoModel.from_config(config)
    except (OSError, ValueError):
        return None


def check_targets(card_name: str, spec: Any, targets: list[str] | None) -> None:
    """Planning-time check of `target_modules` against the encoder's modules (skipped when its config cannot be read here)."""
    if not targets:
        return
    encoder = _meta_encoder(spec)
    if encoder is None:
        return
    missing = missing_targets(targets, [name for name, _ in encoder.named_modules() if name])
    if missing:
        raise targets_error(card_name, spec.label, missing, encoder)


_PREFIX_SUPPORT: dict[str, str | None] = {}


def prefix_problem(model: Any, settings: Any) -> str | None:
    """Why prefix tuning cannot reach `model` (None when it does): the wrapped forward must run and
    change the output. A model whose attention ignores `past_key_values` would otherwise train the
    head alone while the record says "prefix"."""
    import warnings

    import torch

    peft = peft_lib("prefix")
    model.eval()
    ids = torch.tensor([[5, 6, 7, 8]])
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # transformers' deprecation notices from peft's model inspection
            without = _first_output(model(**inputs)).clone()
            wrapped = peft.get_peft_model(model, prefix_config(peft, model, settings))
            with_prefix = _first_output(wrapped(**inputs))
    except Exception as exc:  # noqa: BLE001 - any failure of the wrapped forward means "not supported"
        return f"the wrapped forward fails ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    if torch.allclose(with_prefix, without):
        return "the model ignores the prefix (its attention does not read past_key_values)"
    return None


def _first_output(out: Any) -> Any:
    for key in ("logits", "start_logits", "last_hidden_state"):
        value = getattr(out, key, None)
        if value is not None:
            return value
    return out[0]


def check_prefix_support(card_name: str, spec: Any, head_class: str, settings: Any) -> None:
    """Planning-time check that prefix tuning works on this model type, for real: a one-layer model
    of the encoder's config with random weights, wrapped and run once (cached per model type)."""
    if not getattr(spec, "has_weights", False) or spec.local_path is None:
        return
    from polyglue.torch_compat import prepare

    prepare()
    import transformers

    try:
        config = transformers.AutoConfig.from_pretrained(str(spec.local_path))
    except (OSError, ValueError):
        return
    key = f"{getattr(config, 'model_type', '?')}:{head_class}:{settings.projection}"
    if key not in _PREFIX_SUPPORT:
        small = _one_layer(config)
        small.num_labels = 2
        _PREFIX_SUPPORT[key] = prefix_problem(getattr(transformers, head_class).from_config(small), settings)
    problem = _PREFIX_SUPPORT[key]
    if problem is not None:
        raise prefix_error(card_name, spec.label, getattr(config, "model_type", "?"), problem)


def prefix_error(card_name: str, label: str, model_type: str, problem: str) -> UserError:
    import transformers

    return UserError(
        f"card '{card_name}' field {field('prefix')}: prefix tuning does not work on '{label}' "
        f"(model type {model_type}, transformers {transformers.__version__}): {problem}; use --protocol lora or prompt"
    )


def prefix_config(peft: Any, model: Any, s: Any) -> Any:
    task = task_type(model)
    return peft.PrefixTuningConfig(
        task_type=task, num_virtual_tokens=s.num_virtual_tokens, prefix_projection=s.projection,
        encoder_hidden_size=s.encoder_hidden_size or model.config.hidden_size,
        **({"modules_to_save": head_modules(model)} if task else {}),
    )


def task_type(model: Any) -> str | None:
    name = type(model).__name__
    return next((t for suffix, t in TASK_TYPES.items() if name.endswith("For" + suffix)), None)


class PeftAdapter:
    """Wraps each fresh model of a run into a `peft` model of one kind; finishes the unit's record.

    `kind` is `lora`, `prompt` or `prefix`; `settings` the protocol's block (`LoraSettings`,
    `PromptSettings`, `PrefixSettings`); `default_targets` the LoRA targets when the card names
    none and peft has no default for the model type (wav2vec2: `q_proj`, `v_proj`);
    `head_names` overrides the head found from the model (the CTC layer `lm_head`).
    """

    def __init__(self, kind: str, settings: Any, *, card_name: str, encoder_label: str, tokenizer_path: str | None = None,
                 default_targets: list[str] | None = None, head_names: list[str] | None = None) -> None:
        self.kind, self.settings = kind, settings
        self.card_name, self.encoder_label = card_name, encoder_label
        self.tokenizer_path = tokenizer_path
        self.default_targets, self.head_names = default_targets, head_names
        self.counts: dict[str, int] = {}
        self.model_class = ""

    @staticmethod
    def targets_used(model: Any) -> list[str]:
        """The module names a wrapped LoRA model's adapter targets (peft's resolved list)."""
        config = next(iter(model.peft_config.values()))
        return sorted(config.target_modules or [])

    @property
    def reserved_positions(self) -> int:
        """Input positions the adapter takes before the text (prompt tuning's virtual tokens)."""
        return self.settings.num_virtual_tokens if self.kind == "prompt" else 0

    def _lora_config(self, peft: Any, model: Any, heads: list[str]) -> Any:
        s = self.settings
        targets = s.target_modules or self.default_targets
        if targets is not None:
            encoder = encoder_of(model)
            missing = missing_targets(targets, [name for name, _ in encoder.named_modules() if name])
            if missing:
                raise targets_error(self.card_name, self.encoder_label, missing, encoder)
        return peft.LoraConfig(r=s.r, lora_alpha=s.alpha, lora_dropout=s.dropout, target_modules=targets,
                               modules_to_save=heads, bias="none")

    def _prompt_config(self, peft: Any, model: Any, heads: list[str]) -> Any:
        s = self.settings
        init = {"random": peft.PromptTuningInit.RANDOM, "text": peft.PromptTuningInit.TEXT,
                "sample_vocab": peft.PromptTuningInit.SAMPLE_VOCAB}[s.init]
        text = {"prompt_tuning_init_text": s.init_text, "tokenizer_name_or_path": self.tokenizer_path} if s.init == "text" else {}
        return peft.PromptTuningConfig(task_type=task_type(model), num_virtual_tokens=s.num_virtual_tokens,
                                       prompt_tuning_init=init, modules_to_save=heads, **text)

    def config(self, peft: Any, model: Any, heads: list[str]) -> Any:
        if self.kind == "lora":
            return self._lora_config(peft, model, heads)
        if self.kind == "prompt":
            return self._prompt_config(peft, model, heads)
        return prefix_config(peft, model, self.settings)

    def wrap(self, model: Any) -> Any:
        import torch

        peft = peft_lib(self.kind)
        heads = self.head_names or head_modules(model)
        self.model_class = type(model).__name__
        total_base = sum(p.numel() for p in model.parameters())
        head = sum(p.numel() for name in heads for p in model.get_submodule(name).parameters())
        config = self.config(peft, model, heads)
        if self.kind == "prefix":  # the same real check as at planning, on this very model's type
            problem = prefix_problem(type(model)(_one_layer(model.config)), self.settings)
            if problem is not None:
                raise prefix_error(self.card_name, self.encoder_label, getattr(model.config, "model_type", "?"), problem)
        try:
            wrapped = peft.get_peft_model(model, config)
        except ValueError as exc:
            key = "target_modules" if self.kind == "lora" else None
            raise UserError(
                f"card '{self.card_name}' field {field(self.kind, key)}: {str(exc).splitlines()[0]} "
                f"(linear layers of '{self.encoder_label}': {', '.join(linear_names(encoder_of(model)))})"
            ) from None
        seen: dict[int, torch.nn.Parameter] = {id(p): p for p in wrapped.parameters()}
        trainable = sum(p.numel() for p in seen.values() if p.requires_grad)
        adapter = trainable - head
        self.counts = {"total": total_base + adapter, "trainable": trainable, "adapter": adapter, "head": head,
                       "frozen": total_base - head}
        return wrapped

    def finish(self, model: Any, result: Any, info: dict) -> None:
        """Record counts and settings in `result.extras`; hand the adapter and head files to the driver."""
        result.extras["protocol"] = DESCRIPTIONS[self.kind]
        result.extras["parameters"] = dict(self.counts)
        block = {**self.settings.model_dump(), "head_modules": self.head_names or head_modules(model.get_base_model())}
        if self.kind == "lora":
            block["target_modules_used"] = self.targets_used(model)
        result.extras[self.kind] = block
        result.artifacts.update(adapter_files(model, {**info, "protocol": self.kind, "model_class": self.model_class,
                                                      "parameters": self.counts}))


def _one_layer(config: Any) -> Any:
    """A copy of `config` with one layer and a 64-token vocabulary: the prefix check builds a random-weight
    model from it, so it costs little and never touches the unit's own model."""
    import copy

    config = copy.deepcopy(config)
    for attr in ("num_hidden_layers", "num_layers", "n_layer"):
        if hasattr(config, attr):
            setattr(config, attr, 1)
    config.vocab_size = min(getattr(config, "vocab_size", 64) or 64, 64)
    return config


def adapter_files(model: Any, info: dict) -> dict[str, bytes]:
    """`save_pretrained`'s files of a peft model, plus `polyglue_adapter.json` (`info`)."""
    with tempfile.TemporaryDirectory() as tmp:
        # The base model's own embeddings are never trained here (a CTC layer of a new vocabulary size
        # is a `modules_to_save` head, not a resized embedding), so peft need not save them.
        model.save_pretrained(tmp, save_embedding_layers=False)
        files = {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}
    files[ADAPTER_INFO] = json.dumps(info, indent=2).encode()
    return files


def load_trained(folder: str | Path, base: str | Path | None = None, **model_kwargs: Any) -> Any:
    """The trained model of a peft unit from its artifacts folder (base weights from `base`, else the recorded encoder)."""
    peft = peft_lib()
    import transformers

    folder = Path(folder)
    info = json.loads((folder / ADAPTER_INFO).read_text())
    config = json.loads((folder / "adapter_config.json").read_text())
    target = str(base or config.get("base_model_name_or_path") or info["encoder"].split(":", 1)[-1])
    kwargs: dict = dict(info.get("model_kwargs") or {})
    if not kwargs and info.get("task") in ("single-classification", "pair-classification", "token-classification") and info.get("labels"):
        kwargs["num_labels"] = len(info["labels"])
    elif not kwargs and info.get("task") == "regression":
        kwargs.update(num_labels=1, problem_type="regression")
    kwargs.update(model_kwargs)
    model = getattr(transformers, info["model_class"]).from_pretrained(target, **kwargs)
    return peft.PeftModel.from_pretrained(model, str(folder))
