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

    def __init__(self, encoder, label: str):
        self.encoder = encoder
        self.label = label

    @classmethod
    def of(cls, ctx) -> "_Featurizer":
        from polyglue.langkits.encoders import build_text_encoder

        return cls(build_text_encoder(ctx), ctx.encoder.label)

    def _encode(self, texts):
        out = self.encoder.encode(list(texts))
        if getattr(out, "ndim", None) != 2 or out.shape[0] != len(texts):
            raise UserError(f"'{self.label}': encode(texts) must return a (n_texts, dim) matrix, got shape {getattr(out, 'shape', type(out).__name__)}")
        return out if sparse.issparse(out) else np.asarray(out, dtype=np.float32)

    def __call__(self, texts, pairs, *, cached: bool = True):
        if not cached:  # the two sides apart, so a batch-1 pair is not padded to its longer side
            first = self._encode_uncached(texts)
            return first if pairs is None else _pair_features(first, self._encode_uncached(pairs))
        if pairs is None:
            return self._encode(texts)
        both = self._encode(list(texts) + list(pairs))
        n = len(texts)
        return _pair_features(both[:n], both[n:])

    def _encode_uncached(self, texts):
        """The encoder run now (no feature cache): what efficiency figures time. Plugin encoders
        without `encode_uncached` are timed through `encode`."""
        run = getattr(self.encoder, "encode_uncached", None)
        if run is None:
            return self._encode(texts)
        out = run(list(texts))
        return out if sparse.issparse(out) else np.asarray(out, dtype=np.float32)

    def torch_modules(self) -> list:
        """The encoder's torch modules ([] for the weight-free `bow` and for plugins that name none)."""
        return list(getattr(self.encoder, "torch_modules", lambda: [])())


def _head(task: str, value: float, seed: int):
    if task == "regression":
        from sklearn.linear_model import Ridge

        return Ridge(alpha=value, random_state=seed)
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=value, max_iter=2000, random_state=seed)


def _scaler(train):
    """Standardise dense features on train statistics. Sparse n-gram features (already
    L2-normalised) instead lose the hashed columns no train example uses: millions of
    dimensions shrink to the few thousand that carry signal, and the solver gets fast.
    Returns the transform, so new inputs (the efficiency measurement) are scaled the same way."""
    if sparse.issparse(train):
        keep = np.flatnonzero(train.getnnz(axis=0))
        return lambda x: x[:, keep]
    mean, std = train.mean(0), train.std(0) + 1e-6
    return lambda x: (x - mean) / std


def _scaled(train, *others):
    scale = _scaler(train)
    return tuple(scale(x) for x in (train, *others))


def head_flops(model, x) -> int:
    """FLOPs of the linear head on one example's features (torch's convention: 2 per multiply-add,
    the intercept add not counted): 2 · inputs · outputs, where a sparse row's inputs are its
    non-zeros (scikit-learn's sparse product touches only those)."""
    outputs = model.coef_.shape[0] if np.ndim(model.coef_) == 2 else 1
    inputs = x.nnz if sparse.issparse(x) else x.shape[-1]
    return 2 * int(inputs) * int(outputs)


def head_parameters(model) -> int:
    return int(np.size(model.coef_) + np.size(model.intercept_))


def measure_path(featurize: _Featurizer, scale, model, texts: list[str], pairs: list[str] | None, *,
                 batch_size: int, device: str, sparse_features: bool) -> dict:
    """Figures of the whole inference path (encoder + scaling + head) on these examples
    (`polyglue.efficiency.measure`), the encoder run without the feature cache. FLOPs: torch's
    count of the encoder plus the head's hand count (`head_flops`)."""
    from polyglue import efficiency

    items = [(t, None if pairs is None else pairs[i]) for i, t in enumerate(texts)]

    def features(batch):
        return scale(featurize([t for t, _ in batch], None if pairs is None else [p for _, p in batch], cached=False))

    def forward(batch):
        model.predict(features(batch))

    modules = featurize.torch_modules()
    identity = efficiency.model_identity(*modules)

    def flop_key(item) -> tuple:
        return identity, item  # the encoder's FLOPs depend only on the model and the example's text (its tokens)

    counts = efficiency.add_counts(efficiency.parameter_counts(*modules, frozen=True),
                                   {"total": head_parameters(model), "trainable": head_parameters(model)})
    return efficiency.measure(
        forward, items, parameters=counts, batch_size=batch_size, device=device,
        # dense features: every example has the head's input width, no need to encode it again
        extra_flops=(lambda item: head_flops(model, features([item]))) if sparse_features else (lambda item: head_flops(model, model.coef_)),
        torch_path=bool(modules),
        flop_key=flop_key if modules else None,
    )


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
    featurize = _Featurizer.of(ctx)
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
    scale = _scaler(x_train)
    x_train_s, *x_rest = (scale(x) for x in (x_train, *x_eval.values(), *x_blind.values()))
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
    result = UnitResult(
        metrics=result_metrics,
        predictions=predictions,
        extras=hidden.note({
            "selection": {"parameter": name, "chosen": best, "validation_scores": {str(k): v for k, v in scores.items()}},
            "n_examples": {"train": len(y_train), **{r: len(y) for r, y in y_eval.items()}},
            "timings": {k: round(v, 3) for k, v in timings.items()},
        }, blind_skipped),
    )
    if scored:
        from polyglue import efficiency

        texts, pairs = inputs.sentence_inputs(card, scored[next(iter(scored))], kit)
        efficiency.add_to(result, lambda: measure_path(featurize, scale, model, texts, pairs, batch_size=ctx.settings.batch_size,
                                                       device=ctx.device, sparse_features=sparse.issparse(x_train_s)))
    return result
