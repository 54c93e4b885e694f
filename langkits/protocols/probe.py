"""The `probe` protocol for sentence-level text tasks: frozen features + a linear head.

Features: `bow` n-grams, or mean-pooled hidden states of an `hf:` model (cached). Pair
tasks use SentEval's combination [u, v, |u - v|, u * v] of the two encoded sentences.
Head: logistic regression (classification) or ridge regression, with its regularisation
chosen on the validation split by the card's main metric — never on test.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

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


#: Pairs per featurisation chunk for encoders whose rows do not depend on the batch (bow):
#: the per-text matrices and the pair blocks' temporaries exist for one chunk at a time.
PAIR_CHUNK = 16384


def _stack_rows(chunks: list):
    """Stack row blocks into one matrix, freeing each block once copied (peak: result + one block)."""
    if len(chunks) == 1:
        return chunks.pop()
    if not sparse.issparse(chunks[0]):
        out = np.empty((sum(c.shape[0] for c in chunks), chunks[0].shape[1]), dtype=chunks[0].dtype)
        at = 0
        while chunks:
            block = chunks.pop(0)
            out[at : at + block.shape[0]] = block
            at += block.shape[0]
        return out
    nnz = sum(c.nnz for c in chunks)
    index_dtype = np.int64 if nnz > np.iinfo(np.int32).max else np.int32
    data = np.empty(nnz, dtype=chunks[0].dtype)
    indices = np.empty(nnz, dtype=index_dtype)
    indptr = [np.zeros(1, dtype=index_dtype)]
    rows, width, at = 0, chunks[0].shape[1], 0
    while chunks:
        block = chunks.pop(0)
        data[at : at + block.nnz] = block.data
        indices[at : at + block.nnz] = block.indices
        indptr.append(block.indptr[1:].astype(index_dtype) + at)
        at, rows = at + block.nnz, rows + block.shape[0]
    return sparse.csr_matrix((data, indices, np.concatenate(indptr)), shape=(rows, width), copy=False)


class _Featurizer:
    """Maps (texts, pairs) to a feature matrix with the unit's encoder."""

    def __init__(self, encoder, label: str):
        self.encoder = encoder
        self.label = label
        # Batch-independent encoders are fed in chunks; others (hf: length-sorted batches) see every text at once.
        self.chunk = PAIR_CHUNK if getattr(self.encoder, "rows_independent", False) else None

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
        texts = list(texts)
        if pairs is None:
            out = self._encode(texts)
            # The scaler works in place: dense output may be the encoder's own array, so copy it
            # (pair features below are always fresh; as before, one transient second copy).
            return out if sparse.issparse(out) else out.copy()
        pairs = list(pairs)
        if self.chunk is None:
            both = self._encode(texts + pairs)
            n = len(texts)
            return _pair_features(both[:n], both[n:])
        chunks = [_pair_features(self._encode(texts[i : i + self.chunk]), self._encode(pairs[i : i + self.chunk]))
                  for i in range(0, len(texts), self.chunk)] or [_pair_features(self._encode([]), self._encode([]))]
        return _stack_rows(chunks)


    def _encode_uncached(self, texts):
        """The encoder run now (no feature cache): what efficiency figures time. Plugin encoders
        without `encode_uncached` are timed through `encode`."""
        run = getattr(self.encoder, "encode_uncached", None)
        if run is None:
            return self._encode(texts)
        out = run(list(texts))
        return out if sparse.issparse(out) else np.asarray(out, dtype=np.float32)

    def tokenise_seconds(self) -> float | None:
        """The encoder's own running total of tokenisation time (`bow`: `BowEncoder.seconds`), or
        None when it does not report one (then a unit's `encode_s` is not split)."""
        seconds = getattr(self.encoder, "seconds", None)
        value = seconds.get("tokenise") if isinstance(seconds, dict) else None
        return float(value) if isinstance(value, (int, float)) else None

    def torch_modules(self) -> list:
        """The encoder's torch modules ([] for the weight-free `bow` and for plugins that name none)."""
        return list(getattr(self.encoder, "torch_modules", lambda: [])())


def _head_class(task: str):
    if task == "regression":
        from sklearn.linear_model import Ridge

        return Ridge
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression


def _head(task: str, value: float, seed: int):
    if task == "regression":
        return _head_class(task)(alpha=value, random_state=seed)
    return _head_class(task)(C=value, max_iter=2000, random_state=seed)


def _scaler(train):
    """(train scaled, `transform` for any other matrix), both on train statistics.

    Dense features are standardised, in place (callers pass private matrices). Sparse
    n-gram features (already L2-normalised) instead lose the hashed columns no train
    example uses: millions of dimensions shrink to the few thousand that carry signal, and
    the solver gets fast. The train matrix is renumbered in place (it is the largest: no
    second copy of it is made); other matrices come back as column-sliced copies. Callers
    must not use the inputs afterwards."""
    if sparse.issparse(train):
        keep = np.flatnonzero(train.getnnz(axis=0))
        remap = np.full(train.shape[1], -1, dtype=train.indices.dtype)
        remap[keep] = np.arange(len(keep), dtype=train.indices.dtype)
        indices, step = train.indices, 1 << 22
        for at in range(0, len(indices), step):  # monotone renumbering keeps rows sorted
            indices[at : at + step] = remap[indices[at : at + step]]
        narrowed = sparse.csr_matrix((train.data, indices, train.indptr), shape=(train.shape[0], len(keep)), copy=False)
        return narrowed, lambda x: x[:, keep]
    mean, std = train.mean(0), train.std(0) + 1e-6

    def standardise(x):
        x -= mean
        x /= std
        return x

    return standardise(train), standardise


def _scaled(train, *others):
    """`_scaler` applied to train and each of `others`: (train, *others) scaled."""
    train, transform = _scaler(train)
    return (train, *(transform(x) for x in others))


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
                 batch_size: int, device: str, sparse_features: bool, throughput: tuple[int, float] | None = None) -> dict:
    """Figures of the whole inference path (encoder + scaling + head) on these examples
    (`polyglue.efficiency.measure`), the encoder run without the feature cache. FLOPs: torch's
    count of the encoder plus the head's hand count (`head_flops`). `throughput`: the unit's own
    evaluation pass `(examples, seconds)` at `batch_size`, given only where that pass is the
    inference path (`live_path`)."""
    from polyglue import efficiency

    items = [(t, None if pairs is None else pairs[i]) for i, t in enumerate(texts)]

    def features(batch):
        return scale(featurize([t for t, _ in batch], None if pairs is None else [p for _, p in batch], cached=False))

    head_inputs: dict[int, int] = {}  # id(item) -> head FLOPs of its batch-1 features, noted while timing (not featurised again)

    def forward(batch):
        x = features(batch)
        if len(batch) == 1 and sparse_features:
            head_inputs[id(batch[0])] = head_flops(model, x)
        model.predict(x)

    def sparse_head_flops(item) -> int:
        return head_inputs[id(item)] if id(item) in head_inputs else head_flops(model, features([item]))

    modules = featurize.torch_modules()
    identity = efficiency.model_identity(*modules)

    def flop_key(item) -> tuple:
        return identity, item  # the encoder's FLOPs depend only on the model and the example's text (its tokens)

    counts = efficiency.add_counts(efficiency.parameter_counts(*modules, frozen=True),
                                   {"total": head_parameters(model), "trainable": head_parameters(model)})
    return efficiency.measure(
        forward, items, parameters=counts, batch_size=batch_size, device=device,
        # dense features: every example has the head's input width, no need to encode it again
        extra_flops=sparse_head_flops if sparse_features else (lambda item: head_flops(model, model.coef_)),
        torch_path=bool(modules),
        flop_key=flop_key if modules else None,
        throughput=throughput,
    )


def live_path(featurize: _Featurizer) -> bool:
    """Whether the unit's own evaluation pass (featurise, scale, predict) is the inference path
    efficiency figures time: the encoder keeps no feature cache (no `encode_uncached`, e.g. `bow`).
    An `hf:` encoder's pass reads the feature cache, so its throughput is measured instead."""
    return getattr(featurize.encoder, "encode_uncached", None) is None


class _Phases:
    """Wall time by name, summed over calls: a unit's phases (`extras.timings`), or each evaluation
    role's pass (the efficiency throughput). The phases: `load_s` (materialisation: the
    splits as Arrow tables, their labels as class ids), `normalise_s` (text columns as the kit's
    normalised strings), `featurise_s` (the encoder and the pair blocks), `import_s` (the head's
    library), `fit_s` (scaling, the selection grid, the refit), `blind_predict_s`."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0

    def run(self, name: str, step, *args):
        """`step(*args)`, timed under `name` (for steps inside an expression)."""
        with self(name):
            return step(*args)

    def timings(self, encoder_tokenise_s: float | None) -> dict[str, float]:
        """The stored timings: the phases, `encode_s` (normalise + featurise: text to matrix) and, when
        the encoder reports its own tokenisation time (`bow`), the issue's split of it: `tokenise_s`
        (normalisation + the encoder's tokenisation) and `features_s` (hashing, CSR, pair blocks)."""
        out = dict(self.seconds)
        out["encode_s"] = out.get("normalise_s", 0.0) + out.get("featurise_s", 0.0)
        if encoder_tokenise_s is not None:
            out["tokenise_s"] = out.get("normalise_s", 0.0) + encoder_tokenise_s
            out["features_s"] = max(0.0, out.get("featurise_s", 0.0) - encoder_tokenise_s)
        return out


def _select_and_fit(ctx, x_train, y_train, x_eval: dict, y_eval: dict, passes: _Phases):
    """(head, `transform` for other matrices, scaled `x_eval`, chosen value, validation scores).

    Model selection on validation; without one, on a seeded 10% hold-out of train.
    Each matrix is scaled once, in place where it is private: with a validation split the
    grid's train matrix is the final one (scaled on all of train); without one, the
    hold-out copies are scaled on their own fit part, dropped, and train is scaled for the refit.
    """
    card, main = ctx.card, ctx.card.main_metric
    grid = ALPHA_GRID if card.task == "regression" else C_GRID
    has_validation = "validation" in x_eval
    if has_validation:
        x_train, transform = _scaler(x_train)
        x_eval = {role: passes.run(role, transform, x) for role, x in x_eval.items()}  # part of each role's pass
        scaled_fit, y_fit, scaled_sel, y_sel = x_train, y_train, x_eval["validation"], y_eval["validation"]
    else:
        fit, sel = holdout(len(y_train), ctx.seed)
        scaled_fit, scaled_sel = _scaled(x_train[fit], x_train[sel])
        y_fit, y_sel = y_train[fit], y_train[sel]
    scores, models = {}, {}
    ctx.step(0, len(grid), "selecting the head on validation")
    for value in grid:
        models[value] = _head(card.task, value, ctx.seed).fit(scaled_fit, y_fit)
        scores[value] = metrics.compute([main], y_sel, models[value].predict(scaled_sel))[main]
        ctx.step(1)
    better = max if metrics.higher_is_better(main) else min
    best = better(scores, key=lambda value: scores[value])
    if has_validation:
        model = models[best]  # fitted on all of train already
        del scaled_fit, scaled_sel
    else:
        del scaled_fit, scaled_sel
        x_train, transform = _scaler(x_train)
        x_eval = {role: passes.run(role, transform, x) for role, x in x_eval.items()}  # part of each role's pass
        model = _head(card.task, best, ctx.seed).fit(x_train, y_train)
    return model, transform, x_eval, best, scores


def run(ctx) -> UnitResult:
    card, kit = ctx.card, ctx.kit
    phase = _Phases()
    with phase("load_s"):
        train_split = ctx.train_data.split("train")
        train_card = ctx.train_data.card
        scored = {role: ctx.data.split(role) for role in card.splits.scored_roles()}
        blind, blind_skipped = hidden.load(ctx)
        y_train = inputs.targets(train_card, train_split)
        y_eval = {role: inputs.targets(card, split) for role, split in scored.items()}

    featurize = _Featurizer.of(ctx)
    tokenise_start = featurize.tokenise_seconds()
    with phase("normalise_s"):
        train_inputs = inputs.sentence_inputs(train_card, train_split, kit)
    with phase("featurise_s"):
        x_train = featurize(*train_inputs)
    del train_inputs  # the strings: not kept through the fit
    x_eval = {}
    passes = _Phases()  # role -> seconds of its evaluation pass (featurise, scale, predict): efficiency throughput
    for role, split in scored.items():
        with phase("normalise_s"):
            eval_inputs = inputs.sentence_inputs(card, split, kit)
        with phase("featurise_s"):
            x_eval[role] = passes.run(role, featurize, *eval_inputs)
    if card.task != "regression" and len(np.unique(y_train)) < 2:
        raise UserError(f"card '{card.name}': the train split has a single class; a classifier cannot be fitted")
    with phase("import_s"):  # scikit-learn's import (seconds) is not the head's fit
        _head_class(card.task)
    with phase("fit_s"):
        sparse_features = sparse.issparse(x_train)
        model, transform, x_eval, best, scores = _select_and_fit(ctx, x_train, y_train, x_eval, y_eval, passes)
        del x_train

    result_metrics, predictions = {}, []
    for role, split in scored.items():
        pred = passes.run(role, model.predict, x_eval.pop(role))
        gold = y_eval[role]
        result_metrics[role] = metrics.compute(card.metrics, gold, pred)
        ids = inputs.example_ids(card, split)
        for i, (g, p) in enumerate(zip(gold, pred)):
            if card.task == "regression":
                predictions.append({"split": role, "id": ids[i], "gold": float(g), "pred": float(p)})
            else:
                predictions.append({"split": role, "id": ids[i], "gold": card.labels[int(g)], "pred": card.labels[int(p)]})
    # Blind splits (QQP's test is larger than its train) are featurised only after the fit, one at
    # a time, so they never sit in memory next to the train matrix. Their predictions are the
    # unit's submission file rows (`hidden.blind`), so they are needed.
    for role, split in blind.items():
        with phase("normalise_s"):
            blind_inputs = inputs.sentence_inputs(card, split, kit)
        with phase("featurise_s"):
            x = transform(featurize(*blind_inputs))
        del blind_inputs
        with phase("blind_predict_s"):
            pred = model.predict(x)
        del x
        named = [float(p) for p in pred] if card.task == "regression" else [card.labels[int(p)] for p in pred]
        predictions += hidden.blind([{"split": role, "id": i, "gold": None, "pred": p} for i, p in zip(inputs.example_ids(card, split), named)])
    tokenise_end = featurize.tokenise_seconds()
    timings = phase.timings(None if tokenise_start is None or tokenise_end is None else tokenise_end - tokenise_start)
    name = "alpha" if card.task == "regression" else "C"
    result = UnitResult(
        metrics=result_metrics,
        predictions=predictions,
        extras=hidden.note({
            # `on`/`metric`/`score` as the fine-tune runner records them: the transfer view's in-distribution score
            "selection": {"on": "validation" if "validation" in scored else f"{train_card.name} train hold-out (10%)",
                          "metric": card.main_metric, "score": scores[best],
                          "parameter": name, "chosen": best, "validation_scores": {str(k): v for k, v in scores.items()}},
            "n_examples": {"train": len(y_train), **{r: len(y) for r, y in y_eval.items()}},
            "timings": {k: round(v, 3) for k, v in timings.items()},
        }, blind_skipped),
    )
    if scored:
        from polyglue import efficiency

        first = next(iter(scored))
        texts, pairs = inputs.sentence_inputs(card, scored[first], kit)
        # A weight-free encoder (bow) runs on the CPU: `ctx.device` would import torch (2 s) to say so.
        device = ctx.device if featurize.torch_modules() else "cpu"
        # bow: the first scored split's own pass is the throughput (all of it in one call, chunked for pairs)
        live = live_path(featurize)
        n = len(texts)
        pass_batch = min(n, featurize.chunk) if pairs is not None and featurize.chunk else n
        efficiency.add_to(result, lambda: measure_path(featurize, transform, model, texts, pairs,
                                                       batch_size=pass_batch if live else ctx.settings.batch_size,
                                                       device=device, sparse_features=sparse_features,
                                                       throughput=(n, passes.seconds[first]) if live else None))
    return result
