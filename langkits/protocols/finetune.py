"""The `finetune` protocol, and the frozen-encoder probe of token, QA and multiple-choice tasks.

`run`: the suite's recipe from the card (epochs, learning rate or `lr_grid`, batch size,
accumulation, warm-up, weight decay, clipping, Adam epsilon, dropout, maximum length) on an
`AutoModelFor*` head. The selection split is the card's validation (else the training
card's for zero-shot transfer, else — or when `selection_split: holdout` — a seeded 10%
hold-out of train). With `selection: best` the best evaluation's weights (and, with a grid,
the best learning rate) survive, in memory; with `selection: final` the model after the
last epoch is scored, as `run_glue.py`, and the best evaluation is only an extra. Every
scored split is then predicted.

`run_frozen`: the same head on a frozen encoder (only the linear head learns; no
activations are kept for the encoder), the natural frozen form of span, tag and choice tasks.
The encoder runs once per input: later epochs, validation passes and predictions read its
states from the feature cache (`polyglue.langkits.token_features`).
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from functools import partial

import numpy as np

from polyglue import metrics as metric_lib
from polyglue.data.holdout import HOLDOUT_FRACTION, holdout
from polyglue.data.materialize import SplitData
from polyglue.errors import UserError
from polyglue.hashing import trainable_sha256
from polyglue.contract import UnitResult
from polyglue.langkits.protocols import hidden
from polyglue.langkits.kept import load_weights, model_files
from polyglue.langkits.tasks import head_for

PROBE_LEARNING_RATE = 1e-3
PROBE_EPOCHS = 3.0


def _holdout(split: SplitData, seed: int) -> tuple[SplitData, SplitData]:
    """Seeded (fit, select) partition of a training split, when no validation split exists."""
    fit, held = holdout(len(split), seed)
    part = lambda idx, role: SplitData(role, split.name, split.table.take(np.sort(idx)), f"{split.origin} ({role})", split.source_label_names)  # noqa: E731
    return part(fit, "train"), part(held, "validation")


def selection_data(ctx):
    """(train split, its card, selection split, its card, where selection happens)."""
    card, train_card = ctx.card, ctx.train_data.card
    train = ctx.train_data.split("train")
    if ctx.settings.selection_split == "holdout":
        fit, held = _holdout(train, ctx.seed)
        return fit, train_card, held, train_card, f"{HOLDOUT_FRACTION:.0%} hold-out of train"
    if "validation" in card.splits.scored_roles():
        return train, train_card, ctx.data.split("validation"), card, "validation"
    if train_card is not card and train_card.splits.validation is not None and "validation" in train_card.splits.scored_roles():
        return train, train_card, ctx.train_data.split("validation"), train_card, f"{train_card.name} validation"
    fit, held = _holdout(train, ctx.seed)
    return fit, train_card, held, train_card, f"{HOLDOUT_FRACTION:.0%} hold-out of train"


def _is_oom(exc: BaseException) -> bool:
    """A device out-of-memory error (torch raises `OutOfMemoryError`; older paths a RuntimeError saying so)."""
    import torch

    return isinstance(exc, torch.OutOfMemoryError) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def _config(ctx, learning_rate: float, frozen: bool, batch: tuple[int, int] | None = None):
    from polyglue.langkits.training import TrainConfig

    s = ctx.settings
    batch_size, accumulation = batch or (s.batch_size, s.gradient_accumulation)
    return TrainConfig(
        learning_rate=learning_rate,
        epochs=PROBE_EPOCHS if frozen else s.epochs,
        batch_size=batch_size,
        gradient_accumulation=accumulation,
        warmup_ratio=0.0 if frozen else s.warmup_ratio,
        weight_decay=0.0 if frozen else s.weight_decay,
        max_steps=s.max_steps,
        group_by_length=True if frozen else s.group_by_length,
        seed=ctx.data_seed,
        torch_seed=s.data_seed,
        device=ctx.device,
        **({} if frozen else {
            "max_grad_norm": s.max_grad_norm, "adam_epsilon": s.adam_epsilon,
            "lr_schedule": s.lr_schedule, "decay_all_parameters": s.decay_all_parameters,
        }),
        # The probe is polyglue's own protocol: best epoch on the selection split, whatever the card's recipe.
        selection="best" if frozen else s.selection,
        patience=None if frozen else s.patience,
        eval_every="epoch" if frozen or s.eval_every is None else s.eval_every,
    )


def use_raw_cls(model) -> None:
    """Make a BERT-style sequence classifier read the raw `[CLS]` state: its pooler keeps only
    the first token (no dense + tanh), as a head written on `bert(...)[0][:, 0]` does."""
    import torch

    base = model.base_model
    if getattr(base, "pooler", None) is None:
        raise UserError(f"`sentence_head: cls` needs a BERT-style model with a pooler; {type(model).__name__} has none")

    class FirstToken(torch.nn.Module):
        def forward(self, hidden_states):
            return hidden_states[:, 0]

    base.pooler = FirstToken()


def dropout_kwargs(settings) -> dict:
    """Config overrides for the card's dropout fields (BERT-family names, the ones the recipes use)."""
    out: dict[str, float] = {}
    if settings.hidden_dropout is not None:
        out.update(hidden_dropout_prob=settings.hidden_dropout, attention_probs_dropout_prob=settings.hidden_dropout)
    if settings.classifier_dropout is not None:
        out["classifier_dropout"] = settings.classifier_dropout
    return out


def _train_and_score(ctx, *, frozen: bool, adapter=None) -> UnitResult:
    """Train and score; `adapter` (e.g. `polyglue.langkits.protocols.lora.LoraAdapter`) wraps each fresh model
    (`adapter.wrap(model) -> model`) and, at the end, adds its extras and artifacts (`adapter.finish(model, result)`)."""
    from polyglue.efficiency import add_passes, timed_pass
    from polyglue.langkits.encoders import hf_text
    from polyglue.langkits.training import predict, train

    if not ctx.encoder.has_weights:
        raise UserError(f"'{ctx.encoder.label}' has no weights to train; use an hf:<model> encoder")
    card, kit = ctx.card, ctx.kit
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    train_split, train_card, select_split, select_card, select_where = selection_data(ctx)
    # The selection split's card decides (the training card's, for transfer); a card's
    # `selection_metric` replaces its main metric when that card carries the metric.
    wanted = ctx.settings.selection_metric
    main = wanted if wanted is not None and wanted in select_card.metrics else select_card.main_metric
    scored = {role: ctx.data.split(role) for role in card.splits.scored_roles()}
    head = head_for(card, kit)
    tokenizer = hf_text.load_tokenizer(ctx.encoder, **head.tokenizer_kwargs(hf_text.model_type(ctx.encoder)))
    train_head, select_head = head_for(train_card, kit), head_for(select_card, kit)
    for h in (head, train_head, select_head):
        h.window_chars = ctx.settings.max_length - 16
        h.settings = ctx.settings
    train_ex = train_head.examples(train_card, train_split)
    eval_ex = {role: head.examples(card, split) for role, split in scored.items()}
    # Fine-tuning that selects on the card's own validation split reads the same examples there:
    # encoded once, and the last evaluation's outputs are the validation predictions when the
    # scored weights are the last evaluated ones (no second pass over validation).
    shared = "validation" if not frozen and select_where == "validation" and select_card is card and "validation" in eval_ex else None
    select_ex = eval_ex[shared] if shared else select_head.examples(select_card, select_split)
    for h in (head, train_head, select_head):
        h.prepare(train_ex)
    timings["load_s"] = time.perf_counter() - t0

    kept = ctx.trained_models if not frozen and adapter is None else None
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    state_caches: list = []

    def fresh_model():
        ctx.seed_torch()
        extra = {} if frozen else dropout_kwargs(ctx.settings)
        m = hf_text.load_model(ctx.encoder, head.model_class, **head.model_kwargs(), **extra)
        if ctx.settings.sentence_head == "cls" and not frozen:
            use_raw_cls(m)
        m = m.to(ctx.device)
        if frozen:
            m.base_model.requires_grad_(False)
            state_cache = attach_state_cache(m, ctx)
            if state_cache is not None:
                state_caches.append(state_cache)
        m = adapter.wrap(m) if adapter is not None else m
        init_sha.setdefault("trainable_init_sha256", trainable_sha256(m))
        return m

    init_sha: dict[str, str] = {}

    def fit():
        """Train over the learning-rate grid; returns (model with the chosen weights, encoded features, max length, fit record)."""
        grid = [PROBE_LEARNING_RATE] if frozen else (ctx.settings.lr_grid or [ctx.settings.learning_rate])
        higher = metric_lib.higher_is_better(main)
        best = None  # (score, lr, result, trainable weights on CPU)
        history: dict[str, list] = {}
        # Out of memory: halve the batch and double the accumulation (same effective batch), retry, record it.
        batch = (ctx.settings.batch_size, ctx.settings.gradient_accumulation)
        halvings: list[dict] = []
        encoded = None
        max_length = ctx.settings.max_length
        train_s = select_s = 0.0
        last_outputs: list = []  # [outputs, (examples, seconds)] of the last selection pass
        for lr in grid:
            model = fresh_model()
            if encoded is None:
                t0 = time.perf_counter()
                # A soft prompt takes positions before the text (`reserved_positions`): the text keeps the rest.
                reserved = getattr(adapter, "reserved_positions", 0)
                max_length = hf_text.usable_length(ctx.settings.max_length + reserved, tokenizer, model) - reserved
                select_features = select_head.encode(select_ex, tokenizer, max_length)
                encoded = {
                    "train": train_head.encode(train_ex, tokenizer, max_length),
                    "select": select_features,
                    **{role: select_features if role == shared else head.encode(ex, tokenizer, max_length) for role, ex in eval_ex.items()},
                }
                timings["encode_s"] = time.perf_counter() - t0
                if not encoded["train"]:
                    raise UserError(f"card '{card.name}': the training split gave no examples")
            eval_batch = 2 * batch[0]

            def select(m):
                outputs, timed = timed_pass(lambda: predict(m, encoded["select"], select_head.outputs, pad_id=pad_id, batch_size=eval_batch,
                                                            device=ctx.device), len(encoded["select"]), ctx.device)
                last_outputs[:] = [outputs, timed]
                return select_head.score(select_ex, select_head.decode(select_ex, encoded["select"], outputs))[main]

            while True:
                try:
                    result, state = train(
                        model, encoded["train"], head.forward, _config(ctx, lr, frozen, batch), select, pad_id=pad_id,
                        higher_is_better=higher, step=ctx.step, frozen=model.base_model if frozen else None,
                    )
                    break
                except Exception as exc:  # noqa: BLE001 - only out-of-memory is retried, everything else re-raised
                    if not _is_oom(exc) or batch[0] == 1:
                        raise
                    halvings.append({"learning_rate": lr, "from": {"batch_size": batch[0], "gradient_accumulation": batch[1]},
                                     "to": {"batch_size": batch[0] // 2, "gradient_accumulation": batch[1] * 2}})
                    batch = (batch[0] // 2, batch[1] * 2)
                    eval_batch = 2 * batch[0]
                    del model
                    _empty_device_cache()
                    model = fresh_model()
            train_s, select_s = train_s + result.train_s, select_s + result.select_s
            history[str(lr)] = result.history
            if best is None or (result.score > best[0] if higher else result.score < best[0]):
                best = (result.score, lr, result, state)
            if lr != grid[-1]:
                del model  # one model in memory at a time; the winner is rebuilt from its weights
        if best is None or encoded is None:  # the grid always holds at least one learning rate
            raise RuntimeError(f"card '{card.name}': no learning rate was trained (empty learning-rate grid)")
        score, lr, result, state = best
        # The scored weights are the last evaluated ones: the last learning rate, and `final` or a best evaluation that was the last.
        last_weights = lr == grid[-1] and bool(result.history) and result.epoch == result.history[-1]["epoch"]
        if shared and last_weights and last_outputs:
            ready[shared], passes[shared] = last_outputs
        if lr != grid[-1]:
            model = fresh_model()
        model.load_state_dict(state, strict=False)
        del state
        timings.update(train_s=train_s, select_s=select_s)
        s = ctx.settings
        record = {
            "selection": {
                "metric": main, "learning_rate": lr, "mode": "best" if frozen else s.selection,
                "epoch": result.epoch, "score": score, "history": history,
                # With `final`, the best evaluation is shown for information only (never the headline).
                "best_epoch": result.best_epoch, "best_score": result.best_score, "stopped_early": result.stopped_early,
            },
            "training": {
                "steps": result.steps, "max_length": max_length, "batch_size": batch[0],
                "gradient_accumulation": batch[1], "oom_halvings": halvings,
                "epochs": PROBE_EPOCHS if frozen else s.epochs, "max_steps": s.max_steps,
                "length_grouping": True if frozen else s.group_by_length, "real_token_fraction": round(result.real_token_fraction, 4),
            },
            "n_examples": {"train": len(train_ex), "selection": len(select_ex)},
            "n_features": {"train": len(encoded["train"]), "select": len(encoded["select"])},
            # Dodge et al. 2020's two seeds, and what each fixed: the initial trainable weights, the batch order
            "seeds": {"init": ctx.seed, "data": ctx.data_seed, **init_sha, "first_batches": result.first_batches},
        }
        return model, encoded, max_length, record

    ready: dict = {}  # role -> outputs already computed by the last evaluation
    passes: dict = {}  # role -> (examples, seconds) of its prediction pass with the scored weights (efficiency throughput)
    with kept.exclusive() if kept is not None else nullcontext():
        found = kept.load() if kept is not None else None
        if kept is not None and found is not None:  # the source unit's model (trained here before, or by another unit or process)
            t0 = time.perf_counter()
            model = fresh_model()
            load_weights(model, found[0])
            record = found[1]
            max_length = record["training"]["max_length"]
            encoded = {role: head.encode(ex, tokenizer, max_length) for role, ex in eval_ex.items()}
            timings["reload_s"] = time.perf_counter() - t0
            trained = {"source_unit": kept.key, "path": record["path"], "trained_here": False}
        else:
            model, encoded, max_length, record = fit()
            trained = None
            if kept is not None:
                path = kept.save(model_files(model, tokenizer), record)
                trained = {"source_unit": kept.key, "path": path, "trained_here": True}
    eval_batch = 2 * record["training"]["batch_size"]

    t0 = time.perf_counter()
    metrics, records = {}, []
    for role, ex in eval_ex.items():
        if role in ready:
            outputs = ready[role]
        else:
            outputs, passes[role] = timed_pass(partial(predict, model, encoded[role], head.outputs, pad_id=pad_id, batch_size=eval_batch,
                                                       device=ctx.device), len(encoded[role]), ctx.device)
        preds = head.decode(ex, encoded[role], outputs)
        metrics[role] = head.score(ex, preds)
        records += head.records(ex, preds, role)
    blind, blind_skipped = hidden.load(ctx)
    for role, split in blind.items():  # hidden-label test sets: predicted for submission, never scored
        ex = head.examples(card, split)
        features = head.encode(ex, tokenizer, max_length)
        outputs = predict(model, features, head.outputs, pad_id=pad_id, batch_size=eval_batch, device=ctx.device)
        records += hidden.blind(head.records(ex, head.decode(ex, features, outputs), role))
    timings["predict_s"] = time.perf_counter() - t0
    s = ctx.settings
    out = UnitResult(
        metrics=metrics,
        predictions=records,
        extras=hidden.note({
            "protocol": "probe: frozen encoder, linear head" if frozen else "finetune",
            "selection": {"on": select_where, **record["selection"]},
            "training": record["training"],
            "n_examples": {**record["n_examples"], **{r: len(e) for r, e in eval_ex.items()}},
            "n_features": {**record["n_features"], **{k: len(v) for k, v in encoded.items()}},
            **({"seeds": record["seeds"]} if "seeds" in record else {}),
            "timings": {k: round(v, 3) for k, v in timings.items()},
            **({"token_states": _state_stats(state_caches)} if state_caches else {}),
            **({"trained_model": trained} if trained is not None else {}),
        }, blind_skipped),
    )
    if adapter is not None:
        adapter.finish(model, out)
    for state_cache in state_caches:  # efficiency figures measure the encoder itself, not reads of its cached states
        state_cache.remove()
    from polyglue.langkits.efficiency import add_to

    # Throughput: the scored splits' own prediction passes (no batches re-run for it), unless they read the
    # frozen encoder's cached states (not the inference path); else measured at the card's batch size.
    throughput = None if state_caches else add_passes(*passes.values())
    add_to(out, model, encoded[next(iter(eval_ex))] if eval_ex else [], head.outputs, pad_id=pad_id,
           batch_size=eval_batch if throughput is not None else s.batch_size, device=ctx.device,
           counts=adapter.counts if adapter is not None else None, throughput=throughput)
    del model
    return out


def attach_state_cache(model, ctx):
    """Serve a frozen encoder's states from the feature cache (a separate module, so probes can opt out in perf runs)."""
    from polyglue.langkits.token_features import attach

    return attach(model, ctx.cache, ctx.encoder.identity(), ctx.device)


def _state_stats(caches) -> dict:
    keys = ("rows_read", "rows_computed", "encoder_calls")
    out = {k: sum(c.stats[k] for c in caches) for k in keys}
    out["encoder_s"] = round(sum(c.stats["encoder_s"] for c in caches), 3)
    out["namespace"] = caches[0].ns.root.name
    return out


def _empty_device_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run(ctx) -> UnitResult:
    """Fine-tune the encoder with the card's recipe (the `finetune` protocol)."""
    return _train_and_score(ctx, frozen=False)


def run_frozen(ctx) -> UnitResult:
    """Train only the task head on the frozen encoder (the `probe` protocol of token, QA and choice tasks)."""
    return _train_and_score(ctx, frozen=True)
