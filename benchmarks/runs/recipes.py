"""Named recipes: published hyperparameters a run can ask for by name instead of retyping them.

A recipe belongs to a protocol and sets, per card, the optimiser settings and the protocol's
own block. It is applied at planning (`polyglue.runs.protocol.resolve`): card defaults, then
the recipe, then explicit flags. The resolved values are hashed into the unit key like any
setting, so a recipe's unit is identical to one with the same values typed out.

`hu2021-roberta-base` and `hu2021-roberta-large` are the LoRA paper's GLUE settings (Hu et
al. 2021, arXiv 2106.09685, Table 9), as the authors' scripts run them
(`microsoft/LoRA` `examples/NLU/roberta_{base,large}_<task>.sh`): rank 8 on W_q and W_v,
alpha 16 (the scripts pass 16 for both sizes; Table 9 prints 8 for base), AdamW with weight
decay 0.1, warm-up ratio 0.06, linear decay, best epoch on validation. The scripts pass no
adapter dropout, so it is 0 here. Two differences remain and are recorded in every unit's
`protocol` config: the batch size is the per-device batch of the scripts (they ran on 8
GPUs, so their effective batch was larger), and MRPC, RTE and STS-B start from the
pretrained model, not from the MNLI-adapted one (the paper's † setup does the same).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Recipe:
    name: str
    protocol: str
    description: str
    common: dict
    """Settings shared by every card (protocol settings; `lora` holds the adapter block)."""
    per_card: dict[str, dict] = field(default_factory=dict)
    """Card name -> settings that differ per task."""

    def settings_for(self, card: str) -> dict | None:
        """The recipe's settings for `card`, or None when the recipe has none for it."""
        if card not in self.per_card:
            return None
        out = {**self.common, **self.per_card[card]}
        out["lora"] = {**self.common.get("lora", {}), **self.per_card[card].get("lora", {})}
        return out


def _task(max_length: int, batch_size: int, epochs: float, lr: float) -> dict:
    return {"max_length": max_length, "batch_size": batch_size, "epochs": epochs, "learning_rate": lr}


_LORA_COMMON = {
    "warmup_ratio": 0.06, "weight_decay": 0.1, "gradient_accumulation": 1, "lr_grid": None,
    "lora": {"r": 8, "alpha": 16.0, "dropout": 0.0, "target_modules": None},
}

RECIPES: dict[str, Recipe] = {
    "hu2021-roberta-base": Recipe(
        "hu2021-roberta-base", "lora",
        "LoRA GLUE recipe for RoBERTa-base (Hu et al. 2021, Table 9 / authors' scripts)",
        _LORA_COMMON,
        {
            "mnli": _task(512, 16, 30, 5e-4), "sst2": _task(512, 16, 60, 5e-4), "mrpc": _task(512, 16, 30, 4e-4),
            "cola": _task(512, 32, 80, 4e-4), "qnli": _task(512, 32, 25, 4e-4), "qqp": _task(512, 16, 25, 5e-4),
            "rte": _task(512, 32, 80, 5e-4), "stsb": _task(512, 16, 40, 4e-4),
        },
    ),
    "hu2021-roberta-large": Recipe(
        "hu2021-roberta-large", "lora",
        "LoRA GLUE recipe for RoBERTa-large (Hu et al. 2021, Table 9 / authors' scripts)",
        _LORA_COMMON,
        {
            "mnli": _task(128, 4, 10, 3e-4), "sst2": _task(512, 8, 10, 4e-4), "mrpc": _task(512, 4, 20, 3e-4),
            "cola": _task(128, 4, 20, 3e-4), "qnli": _task(512, 4, 10, 2e-4), "qqp": _task(512, 4, 20, 3e-4),
            "rte": _task(512, 8, 20, 4e-4), "stsb": _task(128, 4, 10, 3e-4),
        },
    ),
}
