"""The `lora` protocol: low-rank adapters on a frozen encoder, the task head trained in full.

LoRA (Hu et al. 2021) through the `peft` library. The recipe is `finetune`'s (the card's
epochs, learning rate or grid, batch size, warm-up, best epoch on validation), run on a
`peft` model: the adapters (`protocol.lora`: rank, alpha, dropout, target modules) and every
module of the task head (everything outside the encoder: `classifier`, `qa_outputs`, a
pooler the checkpoint lacks) learn; the pretrained encoder weights do not. The same code
serves every text task type, because the head is found from the model, not from the task.

A unit records its parameter counts (`extras["parameters"]`: total, trainable, adapter,
head) and returns the trained adapter and head as `peft` files (`adapter_config.json`,
`adapter_model.safetensors`) plus `polyglue_adapter.json` (the base model and head class);
the driver keeps them under `<runs-dir>/artifacts/`, and `load_trained` rebuilds the model.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from polyglue.cards.schema import LoraSettings
from polyglue.contract import RunContext, UnitResult
from polyglue.errors import UserError

ADAPTER_INFO = "polyglue_adapter.json"


def _peft() -> Any:
    try:
        import peft
    except ImportError:
        raise UserError("the lora protocol needs the peft library: pip install 'polyglue[peft]'") from None
    return peft


def head_modules(model: Any) -> list[str]:
    """Top-level modules with weights outside the encoder: the task head, trained in full."""
    prefix = getattr(model, "base_model_prefix", "")
    return [name for name, child in model.named_children() if name != prefix and any(True for _ in child.parameters())]


def linear_names(module: Any) -> list[str]:
    """The distinct last names of the encoder's linear layers (what `target_modules` may name)."""
    import torch

    return sorted({name.rsplit(".", 1)[-1] for name, m in module.named_modules() if isinstance(m, torch.nn.Linear) and name})


def _field(settings_key: str) -> str:
    flag = {"target_modules": "--lora-targets"}.get(settings_key, f"--lora-{settings_key}")
    return f"protocol.lora.{settings_key} (or {flag})"


def missing_targets(targets: list[str], module_names: list[str]) -> list[str]:
    """The targets that match no module (peft matches a name exactly or as its dotted suffix)."""
    return [t for t in targets if not any(n == t or n.endswith("." + t) for n in module_names)]


def check_targets(card_name: str, spec: Any, targets: list[str] | None) -> None:
    """Planning-time check of `target_modules` against the encoder's modules, built on torch's meta
    device from its config (no weights read). Skipped when the config cannot be read here."""
    if not targets or not getattr(spec, "has_weights", False) or spec.local_path is None:
        return
    from polyglue.torch_compat import prepare

    prepare()
    import torch
    import transformers

    try:
        config = transformers.AutoConfig.from_pretrained(str(spec.local_path))
        with torch.device("meta"):
            encoder = transformers.AutoModel.from_config(config)
    except (OSError, ValueError):
        return
    names = [name for name, _ in encoder.named_modules() if name]
    missing = missing_targets(targets, names)
    if missing:
        raise UserError(
            f"card '{card_name}' field {_field('target_modules')}: {', '.join(repr(m) for m in missing)} "
            f"match(es) no module of '{spec.label}' (its linear layers: {', '.join(linear_names(encoder))})"
        )


class LoraAdapter:
    """Wraps each fresh model of a `finetune` run into a `peft` LoRA model; finishes the unit's record."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.settings: LoraSettings = ctx.settings.lora or LoraSettings.model_validate({})
        self.counts: dict[str, int] = {}
        self.model_class = ""
        self.model_kwargs: dict = {}

    def _check_targets(self, model: Any) -> None:
        targets = self.settings.target_modules
        encoder = getattr(model, getattr(model, "base_model_prefix", ""), model)
        if targets is None:
            return
        missing = missing_targets(targets, [name for name, _ in encoder.named_modules() if name])
        if missing:
            raise UserError(
                f"card '{self.ctx.card.name}' field {_field('target_modules')}: {', '.join(repr(m) for m in missing)} "
                f"match(es) no module of '{self.ctx.encoder.label}' (its linear layers: {', '.join(linear_names(encoder))})"
            )

    def wrap(self, model: Any) -> Any:
        peft = _peft()
        self._check_targets(model)
        s = self.settings
        heads = head_modules(model)
        self.model_class = type(model).__name__
        total_base = sum(p.numel() for p in model.parameters())
        head = sum(p.numel() for name in heads for p in getattr(model, name).parameters())
        config = peft.LoraConfig(
            r=s.r, lora_alpha=s.alpha, lora_dropout=s.dropout, target_modules=s.target_modules,
            modules_to_save=heads, bias="none",
        )
        try:
            wrapped = peft.get_peft_model(model, config)
        except ValueError as exc:
            encoder = getattr(model, getattr(model, "base_model_prefix", ""), model)
            raise UserError(
                f"card '{self.ctx.card.name}' field {_field('target_modules')}: {str(exc).splitlines()[0]} "
                f"(linear layers of '{self.ctx.encoder.label}': {', '.join(linear_names(encoder))})"
            ) from None
        adapter = sum(p.numel() for n, p in wrapped.named_parameters() if "lora_" in n)
        trainable = sum(p.numel() for p in wrapped.parameters() if p.requires_grad)
        self.counts = {"total": total_base + adapter, "trainable": trainable, "adapter": adapter, "head": head, "frozen": total_base - head}
        return wrapped

    def finish(self, model: Any, result: UnitResult) -> None:
        """Record the counts and settings; hand the adapter and head weights to the driver."""
        s = self.settings
        result.extras["protocol"] = "lora: low-rank adapters (peft), task head trained in full"
        result.extras["parameters"] = dict(self.counts)
        result.extras["lora"] = {
            **s.model_dump(), "target_modules_used": sorted(next(iter(model.peft_config.values())).target_modules or []),
            "head_modules": head_modules(model.get_base_model()),
        }
        with tempfile.TemporaryDirectory() as tmp:
            model.save_pretrained(tmp)
            files = {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}
        info = {
            "encoder": self.ctx.encoder.spec, "model_class": self.model_class, "card": self.ctx.card.name,
            "labels": self.ctx.card.labels, "task": self.ctx.card.task, "parameters": self.counts,
        }
        files[ADAPTER_INFO] = json.dumps(info, indent=2).encode()
        result.artifacts.update(files)


def load_trained(folder: str | Path, base: str | Path | None = None) -> Any:
    """The trained model of a `lora` unit from its artifacts folder (base weights from `base`, else the recorded encoder)."""
    peft = _peft()
    import transformers

    folder = Path(folder)
    info = json.loads((folder / ADAPTER_INFO).read_text())
    config = json.loads((folder / "adapter_config.json").read_text())
    target = str(base or config.get("base_model_name_or_path") or info["encoder"].split(":", 1)[-1])
    kwargs: dict = {}
    if info["task"] in ("single-classification", "pair-classification", "token-classification") and info["labels"]:
        kwargs["num_labels"] = len(info["labels"])
    elif info["task"] == "regression":
        kwargs.update(num_labels=1, problem_type="regression")
    model = getattr(transformers, info["model_class"]).from_pretrained(target, **kwargs)
    return peft.PeftModel.from_pretrained(model, str(folder))


def run(ctx: RunContext) -> UnitResult:
    """Fine-tune LoRA adapters and the task head with the card's recipe (the `lora` protocol)."""
    from polyglue.langkits.protocols.finetune import _train_and_score

    _peft()
    return _train_and_score(ctx, frozen=False, adapter=LoraAdapter(ctx))
