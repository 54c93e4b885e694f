"""The runner contract: what a runner is given (`RunContext`) and what it returns (`UnitResult`).

A runner is a function `run(ctx: RunContext) -> UnitResult`. Runners — the text protocols
in `polyglue.langkits.protocols`, the speech runners in `polyglue.speech.runners`, and any
plugin's — import this module and the layers below it (`polyglue.cards`, `.data`,
`.metrics`, `.features`, `.encoders`, `.errors`), never `polyglue.runs`, the report, the
CLI or the API: `polyglue.runs` builds the context from a planned unit and dispatches.
A test walks the imports to keep it so (`tests/core/test_layers.py`).

Importing this module is light (no torch): the context only holds references.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Literal, Protocol

from pydantic import Field

from polyglue.cards.schema import Card, ProtocolDefaults

if TYPE_CHECKING:  # pragma: no cover - types only
    from polyglue.data.materialize import DataResolver
    from polyglue.encoders import EncoderSpec
    from polyglue.features import FeatureCache


class StepCallback(Protocol):
    """`step(advance, total, description)`: advance the unit's progress bar; a `total` resets it."""

    def __call__(self, advance: int = 0, total: int | None = None, description: str = "") -> None: ...


def null_step(advance: int = 0, total: int | None = None, description: str = "") -> None:
    """A step callback that ignores progress (tests, workers)."""


class ProtocolSettings(ProtocolDefaults):
    """The resolved, typed settings of one unit: the card's `protocol` block, then the run's overrides.

    Every field here is hashed into the unit key (`polyglue.runs.protocol.config_hash`), so two
    runs that differ in any setting never share results.
    """

    name: str = Field(min_length=1)
    """The protocol that evaluates the unit (`finetune`, `probe`, `superb`, `qbe`, or a plugin's)."""
    limit: int | None = Field(None, ge=1)
    """`--limit`: a fixed random sample of at most this many examples per split (a debug run)."""
    languages: list[str] | None = None
    """Speech: ISO 639-1 codes the run is restricted to (`--languages`)."""
    langkit_sha256: str | None = None
    """Hash of the user language kit next to the card, so editing it makes new units."""
    lm_sha256: str | None = None
    """ASR: content hash of `lm_path` (and `lm_lexicon`), set at planning; the key holds it instead of the paths."""
    feature_storage: Literal["fp16", "int8"] = "fp16"
    """Speech: how cached upstream features are stored (`--feature-storage`); int8 is per-channel quantised."""
    source_model: str | None = None
    """A `train_from` unit that evaluates its source unit's kept model: a hash of the source's card and
    settings, so a changed source card or recipe makes a new unit (set at planning, never by a card)."""
    data_seed: int | None = Field(None, ge=0)
    """`--data-seeds`: the data-order seed (training batch order, dropout) apart from the unit's
    seed, which then drives only the initialisation of the head/adapters (Dodge et al. 2020).
    None: both follow the unit's seed, as before the setting existed (and the unit key is unchanged)."""


@dataclass
class UnitResult:
    """What a runner returns.

    `metrics`: split role -> metric name -> value (fractions, or raw values for the metrics
    `polyglue.cards.vocab.RAW_METRICS` lists). `predictions`: one record per scored example,
    each with at least `split`, `id`, `gold`, `pred`. `extras`: choices made (regularisation,
    learning rate, best layer, layer weights), sizes and per-stage timings. `artifacts`: file
    name -> bytes the unit keeps for reuse (e.g. LoRA adapter weights); the driver writes them
    under the runs directory before it marks the unit done and records the folder in
    `extras["artifacts"]` (runners never see the runs directory).
    """

    metrics: dict[str, dict[str, float]]
    predictions: list[dict] = field(default_factory=list)
    extras: dict = field(default_factory=dict)
    artifacts: dict[str, bytes] = field(default_factory=dict)


Runner = Callable[["RunContext"], UnitResult]
"""The runner signature."""


class TrainedModels(Protocol):
    """One trained model kept for reuse, named by the key of the unit that trains it.

    A `train_from` card (XQuAD-ca, trained on ViquiQuAD) evaluates the model of its source
    unit (the training card's unit with the same encoder, seed and settings) instead of
    training a second copy. Both units get a handle with the source unit's `key`: the first
    to run trains inside `exclusive()` and `save`s; every later one (this run, a rerun, a
    second process) `load`s it. The runs layer implements it (`polyglue.runs.models`);
    runners see only this interface. A unit without a handle trains as it always did.
    """

    key: str
    """The source unit's key: the identity of the model (never another unit's)."""

    def load(self) -> tuple[Path, dict] | None:
        """(folder, metadata) of a complete copy whose files match their recorded hashes; None if
        missing, half-written or corrupt (such a copy is never read)."""
        ...

    def save(self, files: dict[str, bytes], meta: dict) -> str:
        """Keep the model's files atomically (temporary folder, then rename); returns where (runs-dir relative)."""
        ...

    def exclusive(self) -> ContextManager[None]:
        """Held while checking for and training the model, so two processes never train it twice."""
        ...


@dataclass
class RunContext:
    """Everything a runner may use. Data is read only through `data` / `train_data` / `data_dir`."""

    suite: str
    """The suite the unit belongs to (corpus layouts live under `data_dir / suite`)."""
    card: Card
    card_path: Path | None
    encoder: EncoderSpec
    settings: ProtocolSettings
    seed: int
    data: DataResolver
    """The card's splits by role (`data.split("train")`)."""
    train_data: DataResolver
    """The training card's splits: the card's own, or its `train_from` card's (zero-shot transfer)."""
    cache: FeatureCache
    data_dir: Path | None = None
    """The data root the user named (`--data-dir`); nothing outside it is read."""
    requested_device: str = "auto"
    threads: int | None = None
    """CPU threads for torch and BLAS (None: the libraries' default)."""
    step: StepCallback = null_step
    kit_loader: Callable[[], Any] | None = None
    """Builds the card's language kit on first use (set by the dispatcher; kits are text-side code)."""
    trained_models: TrainedModels | None = None
    """The kept model this unit reuses or keeps for a `train_from` card (None: train, keep nothing)."""

    @cached_property
    def kit(self):
        """The card's language kit (`polyglue.langkits.kits.LangKit`)."""
        if self.kit_loader is None:
            raise RuntimeError("this context has no language kit loader")
        return self.kit_loader()

    @cached_property
    def device(self) -> str:
        """`auto` becomes `cuda` when torch sees a GPU, else `cpu`. Imports torch (call only when needed)."""
        if self.requested_device != "auto":
            return self.requested_device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    @property
    def data_seed(self) -> int:
        """The data-order seed: `settings.data_seed` when the run separates it, else the unit's seed."""
        return self.settings.data_seed if self.settings.data_seed is not None else self.seed

    def seed_torch(self) -> None:
        """Seed torch (CPU and CUDA) and apply the unit's CPU thread count."""
        import torch

        apply_threads(self.threads)
        torch.manual_seed(self.seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(self.seed)


def apply_threads(threads: int | None) -> None:
    """Use `threads` CPU threads in torch (when loaded) and in later-loaded OpenMP libraries.

    Floating-point sums depend on how work is split across threads, so two runs agree to the
    last bit only with the same count: `--threads` makes the local and Ray backends match.
    """
    if not threads:
        return
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
