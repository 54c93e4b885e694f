"""The `probe` protocol for sentence-level text tasks: frozen features + a linear head.

Features: `bow` n-grams, or mean-pooled hidden states of an `hf:` model (cached). Pair
tasks use SentEval's combination [u, v, |u - v|, u * v] of the two encoded sentences.
Head: logistic regression (classification) or ridge regression, with its regularisation
chosen on the validation split by the card's main metric — never on test.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import sparse

from polyglue import metrics
from polyglue.data.holdout import holdout
from polyglue.errors import UserError
from polyglue.contract import UnitResult
from polyglue.langkits import inputs
from polyglue.langkits.protocols import hidden

C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)
ALPHA_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)


def _pair_features(u, v):
    if sparse.issparse(u):
        return sparse.hstack([u, v, abs(u - v), u.multiply(v)], format="csr")
    return np.hstack([u, v, np.abs(u - v), u * v])


class _Featurizer:
    """Maps (texts, pairs) to a feature matrix with the unit's encoder."""

    def __init__(self, ctx):
        from polyglue.langkits.encoders import build_text_encoder

        self.ctx = ctx
        self.encoder = build_text_encoder(ctx)
        self.label = ctx.encoder.label

    def _encode(self, texts):
        out = self.encoder.encode(list(texts))
        if getattr(out, "ndim", None) != 2 or out.shape[0] != len(texts):
            raise UserError(f"'{self.label}': encode(texts) must return a (n_texts, dim) matrix, got shape {getattr(out, 'shape', type(out).__name__)}")
        return out if sparse.issparse(out) else np.asarray(out, dtype=np.float32)

    def __call__(self, texts, pairs):
        if pairs is None:
            return self._encode(texts)
        both = self._encode(list(texts) + list(pairs))
        n = len(texts)
        return _pair_features(both[:n], both[n:])


def _head(task: str, value: float, seed: int):
    if task == "regression":
        from sklearn.linear_model import Ridge

        return Ridge(alpha=value, random_state=seed)
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=value, max_iter=2000, random_state=seed)


def _scaled(train, *others):
    """Standardise dense features on train statistics. Sparse n-gram features (already
    L2-normalised) instead lose the hashed columns no train example uses: millions of
    dimensions shrink to the few thousand that carry signal, and the solver gets fast."""
    if sparse.issparse(train):
        keep = np.flatnonzero(train.getnnz(axis=0))
        return tuple(x[:, keep] for x in (train, *others))
    mean, std = train.mean(0), train.std(0) + 1e-6
    return tuple((x - mean) / std for x in (train, *others))


def run(ctx) -> UnitResult:
    card, kit, main = ctx.card, ctx.kit, ctx.card.main_metric
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    train_split = ctx.train_data.split("train")
    train_card = ctx.train_data.card
    scored = {role: ctx.data.split(role) for role in card.splits.scored_roles()}
    blind, blind_skipped = hidden.load(ctx)
    timings["load_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    featurize = _Featurizer(ctx)
    x_train = featurize(*inputs.sentence_inputs(train_card, train_split, kit))
    y_train = inputs.targets(train_card, train_split)
    x_eval = {role: featurize(*inputs.sentence_inputs(card, split, kit)) for role, split in scored.items()}
    y_eval = {role: inputs.targets(card, split) for role, split in scored.items()}
    x_blind = {role: featurize(*inputs.sentence_inputs(card, split, kit)) for role, split in blind.items()}
    timings["encode_s"] = time.perf_counter() - t0
    if card.task != "regression" and len(np.unique(y_train)) < 2:
        raise UserError(f"card '{card.name}': the train split has a single class; a classifier cannot be fitted")

    # Model selection on validation; without one, on a seeded 10% hold-out of train.
    t0 = time.perf_counter()
    if "validation" in x_eval:
        x_fit, y_fit, x_sel, y_sel = x_train, y_train, x_eval["validation"], y_eval["validation"]
    else:
        fit, sel = holdout(len(y_train), ctx.seed)
        x_fit, y_fit, x_sel, y_sel = x_train[fit], y_train[fit], x_train[sel], y_train[sel]
    grid = ALPHA_GRID if card.task == "regression" else C_GRID
    scaled_fit, scaled_sel = _scaled(x_fit, x_sel)
    scores, models = {}, {}
    ctx.step(0, len(grid), "selecting the head on validation")
    for value in grid:
        models[value] = _head(card.task, value, ctx.seed).fit(scaled_fit, y_fit)
        scores[value] = metrics.compute([main], y_sel, models[value].predict(scaled_sel))[main]
        ctx.step(1)
    better = max if metrics.higher_is_better(main) else min
    best = better(scores, key=lambda value: scores[value])
    x_train_s, *x_rest = _scaled(x_train, *x_eval.values(), *x_blind.values())
    x_eval_s, x_blind_s = x_rest[: len(x_eval)], x_rest[len(x_eval) :]
    # With a validation split the grid was fitted on all of train already; else refit on all of it.
    model = models[best] if x_fit is x_train else _head(card.task, best, ctx.seed).fit(x_train_s, y_train)
    timings["fit_s"] = time.perf_counter() - t0

    result_metrics, predictions = {}, []
    for (role, split), x in zip(scored.items(), x_eval_s):
        pred = model.predict(x)
        gold = y_eval[role]
        result_metrics[role] = metrics.compute(card.metrics, gold, pred)
        ids = inputs.example_ids(card, split)
        for i, (g, p) in enumerate(zip(gold, pred)):
            if card.task == "regression":
                predictions.append({"split": role, "id": ids[i], "gold": float(g), "pred": float(p)})
            else:
                predictions.append({"split": role, "id": ids[i], "gold": card.labels[int(g)], "pred": card.labels[int(p)]})
    for (role, split), x in zip(blind.items(), x_blind_s):
        pred = model.predict(x)
        named = [float(p) for p in pred] if card.task == "regression" else [card.labels[int(p)] for p in pred]
        predictions += hidden.blind([{"split": role, "id": i, "gold": None, "pred": p} for i, p in zip(inputs.example_ids(card, split), named)])
    name = "alpha" if card.task == "regression" else "C"
    return UnitResult(
        metrics=result_metrics,
        predictions=predictions,
        extras=hidden.note({
            "selection": {"parameter": name, "chosen": best, "validation_scores": {str(k): v for k, v in scores.items()}},
            "n_examples": {"train": len(y_train), **{r: len(y) for r, y in y_eval.items()}},
            "timings": {k: round(v, 3) for k, v in timings.items()},
        }, blind_skipped),
    )
