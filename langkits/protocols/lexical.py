"""Weight-free baseline runs (`--model bow`) for token, QA and multiple-choice cards.

Each baseline's few settings are chosen on validation by its card's main metric (the
tagger's regularisation; the QA window's span and context widths) and recorded; the
multiple-choice scorer has none. Scoring and prediction records go through the same task
heads as fine-tuning, so every protocol writes the same records.
"""

from __future__ import annotations

import time

import numpy as np

from polyglue import metrics as metric_lib
from polyglue.contract import UnitResult
from polyglue.langkits.baselines import NgramTagger, SlidingWindowQA, sliding_window_scores
from polyglue.langkits.protocols import hidden
from polyglue.langkits.protocols.finetune import selection_data
from polyglue.langkits.tasks import head_for

TAGGER_ALPHAS = (1e-6, 1e-5, 1e-4)
QA_GRID: dict[str, dict[str, tuple[int, ...]]] = {"word": {"max_span": (1, 2, 3, 5), "window": (3, 5, 10)}, "char": {"max_span": (2, 4, 8), "window": (5, 10, 20)}}
MAX_SELECTION_ITEMS = 1000
"""The QA window grid is searched on at most this many validation questions (a seeded sample)."""


def _choose(scores: dict, main: str):
    better = max if metric_lib.higher_is_better(main) else min
    return better(scores, key=lambda config: scores[config])


def _result(ctx, head, eval_ex: dict, predict, extras: dict, timings: dict) -> UnitResult:
    t0 = time.perf_counter()
    metrics, records = {}, []
    for role, ex in eval_ex.items():
        preds = predict(ex)
        metrics[role] = head.score(ex, preds)
        records += head.records(ex, preds, role)
    blind, skipped = hidden.load(ctx)
    for role, split in blind.items():  # hidden-label test sets: predicted for submission, never scored
        ex = head.examples(ctx.card, split)
        records += hidden.blind(head.records(ex, predict(ex), role))
    hidden.note(extras, skipped)
    timings["predict_s"] = time.perf_counter() - t0
    extras["timings"] = {k: round(v, 3) for k, v in timings.items()}
    extras["n_examples"] = {r: len(e) for r, e in eval_ex.items()}
    return UnitResult(metrics=metrics, predictions=records, extras=extras)


def _splits(ctx):
    card, kit = ctx.card, ctx.kit
    t0 = time.perf_counter()
    train_split, train_card, sel_split, sel_card, where = selection_data(ctx)
    head, sel_head = head_for(card, kit), head_for(sel_card, kit)
    sel_ex = sel_head.examples(sel_card, sel_split)
    eval_ex = {role: head.examples(card, ctx.data.split(role)) for role in card.splits.scored_roles()}
    return head, sel_head, (train_split, train_card), sel_ex, eval_ex, where, {"load_s": time.perf_counter() - t0}


def run_token(ctx) -> UnitResult:
    """Windowed n-gram tagger; regularisation chosen on validation."""
    head, sel_head, (train_split, train_card), sel_ex, eval_ex, where, timings = _splits(ctx)
    main = sel_head.card.main_metric
    train_ex = head_for(train_card, ctx.kit).examples(train_card, train_split)
    t0 = time.perf_counter()
    names = ctx.card.labels
    to_names = lambda tags: [[names[int(t)] for t in row] for row in tags]  # noqa: E731
    scores, taggers = {}, {}
    ctx.step(0, len(TAGGER_ALPHAS), "fitting the n-gram tagger")
    for alpha in TAGGER_ALPHAS:
        taggers[alpha] = NgramTagger(alpha=alpha, seed=ctx.seed).fit(train_ex.words, train_ex.tags)
        scores[alpha] = sel_head.score(sel_ex, to_names(taggers[alpha].predict(sel_ex.words)))[main]
        ctx.step(1)
    alpha = _choose(scores, main)
    timings["fit_s"] = time.perf_counter() - t0
    extras = {
        "baseline": "windowed word/character n-gram tagger (SGD logistic regression)",
        "selection": {"on": where, "metric": main, "score": scores[alpha], "parameter": "alpha", "chosen": alpha,
                      "scores": {str(k): v for k, v in scores.items()}},
        "n_train_tokens": int(sum(len(w) for w in train_ex.words)),
    }
    return _result(ctx, head, eval_ex, lambda ex: to_names(taggers[alpha].predict(ex.words)), extras, timings)


def run_qa(ctx) -> UnitResult:
    """Sliding-window span baseline; span and window widths chosen on validation.

    Unit frequencies (IDF, stop units) come from the training contexts only, never answers."""
    kit = ctx.kit
    head, sel_head, (train_split, train_card), sel_ex, eval_ex, where, timings = _splits(ctx)
    main = sel_head.card.main_metric
    contexts = sorted({item.context for item in head_for(train_card, kit).examples(train_card, train_split).items})
    items = sel_ex.items
    if len(items) > MAX_SELECTION_ITEMS:
        keep = np.sort(np.random.default_rng(ctx.seed).choice(len(items), MAX_SELECTION_ITEMS, replace=False))
        sel_ex = type(sel_ex)([items[i] for i in keep])
    grid = QA_GRID["char" if kit.token_unit == "char" else "word"]
    configs = [(s, w) for s in grid["max_span"] for w in grid["window"]]
    t0 = time.perf_counter()
    scores = {}
    ctx.step(0, len(configs), "choosing the window on validation")
    for span, window in configs:
        model = SlidingWindowQA(max_span=span, window=window).fit(contexts, kit)
        scores[(span, window)] = sel_head.score(sel_ex, [model.predict(it.question, it.context, kit) for it in sel_ex.items])[main]
        ctx.step(1)
    span, window = _choose(scores, main)
    timings["select_s"] = time.perf_counter() - t0
    model = SlidingWindowQA(max_span=span, window=window).fit(contexts, kit)
    extras = {
        "baseline": "sliding window (Rajpurkar et al. 2016; Richardson et al. 2013)",
        "selection": {
            "on": where, "metric": main, "score": scores[(span, window)], "n_questions": len(sel_ex), "n_idf_contexts": len(contexts),
            "chosen": {"max_span": span, "window": window},
            "scores": {f"max_span={s},window={w}": v for (s, w), v in scores.items()},
        },
    }
    return _result(ctx, head, eval_ex, lambda ex: [model.predict(it.question, it.context, kit) for it in ex.items], extras, timings)


def run_choice(ctx) -> UnitResult:
    """Sliding-window lexical overlap of question + choice with the passage; ties broken at random (seeded)."""
    kit, card = ctx.kit, ctx.card
    t0 = time.perf_counter()
    head = head_for(card, kit)
    head.window_chars = ctx.settings.max_length
    eval_ex = {role: head.examples(card, ctx.data.split(role)) for role in card.splits.scored_roles()}
    timings = {"load_s": time.perf_counter() - t0}
    rng = np.random.default_rng(ctx.seed)

    def predict(ex):
        out = []
        for item in ex.items:
            scores = np.array(sliding_window_scores(item.context, item.question, item.choices, kit))
            tied = np.flatnonzero(scores == scores.max()) if len(scores) else np.array([0])
            out.append(item.choices[int(rng.choice(tied))] if item.choices else "")
        return out

    extras = {"baseline": "sliding-window lexical overlap (Richardson et al. 2013); no parameters", "selection": None}
    return _result(ctx, head, eval_ex, predict, extras, timings)


RUNNERS = {"token-classification": run_token, "extractive-qa": run_qa, "multiple-choice": run_choice}
