"""A fine-tuned model as files, and back: what a source unit keeps for its `train_from` units.

The files are the model's whole state dict as `model.safetensors`, its `config.json` and
the tokenizer, so the folder also loads on its own with `from_pretrained`. Inside polyglue
the weights are loaded into a model built exactly as the runner builds a fresh one (same
head, dropout overrides, raw-`[CLS]` pooler), with every key required to match: a kept
model is either the trained model, bit for bit, or an error.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

WEIGHTS = "model.safetensors"


def model_files(model, tokenizer) -> dict[str, bytes]:
    """File name -> bytes of the model's weights (CPU, fp32 as trained), config and tokenizer."""
    from safetensors.torch import save

    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    try:
        weights = save(state)
    except RuntimeError:  # tensors that share memory (tied weights): safetensors wants separate copies
        weights = save({k: v.clone() for k, v in state.items()})
    files = {WEIGHTS: weights}
    with tempfile.TemporaryDirectory(prefix="polyglue-kept-") as tmp:
        model.config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        for path in Path(tmp).iterdir():
            if path.is_file():
                files[path.name] = path.read_bytes()
    return files


def load_weights(model, folder: Path) -> None:
    """Load the kept weights into `model` (built as the runner builds a fresh one); every key must match."""
    from safetensors.torch import load_file

    state = load_file(str(Path(folder) / WEIGHTS), device=str(next(model.parameters()).device))
    model.load_state_dict(state, strict=True)
