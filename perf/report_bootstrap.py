"""Bootstrap replay speed: fast per-example statistics vs `polyglue.metrics.compute` on the same resamples.

Run: `.venv/bin/python perf/report_bootstrap.py [--resamples 200]`. Both sides score the
same resampled index arrays and must agree to 1e-12 (checked here too); the baseline is
what a naive paired bootstrap does: call the metric on the resampled lists. The last line
times a whole `bench compare` (library call) on a planted store.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from polyglue import metrics  # noqa: E402
from polyglue.cards.schema import Card  # noqa: E402
from polyglue.report.replay import MetricReplay  # noqa: E402
from tests.fixtures.report_store import card_body  # noqa: E402


def cases(rng):
    labels = ["not_equivalent", "equivalent"]
    gold = list(rng.choice(labels, 10_000))
    pred = [g if rng.random() < 0.8 else labels[1 - labels.index(g)] for g in gold]
    binary = Card.model_validate(card_body("p-bin", task="pair-classification", labels=labels, metrics_=["accuracy", "f1", "mcc"]))
    yield "accuracy, 10k examples", binary, "accuracy", gold, pred, {}
    yield "f1, 10k examples", binary, "f1", gold, pred, {}
    yield "mcc, 10k examples", binary, "mcc", gold, pred, {}
    sts_gold = list(np.round(rng.uniform(0, 5, 1500), 1))
    sts_pred = [float(g + rng.normal(0, 1)) for g in sts_gold]
    body = card_body("p-sts", labels=None, metrics_=["pearson_spearman_mean"], main_metric="pearson_spearman_mean") | {"task": "regression"}
    yield "pearson_spearman_mean, 1.5k", Card.model_validate(body), "pearson_spearman_mean", sts_gold, sts_pred, {}
    tags = ["O", "O", "O", "B-PER", "I-PER", "B-LOC"]
    ner_gold = [[str(t) for t in rng.choice(tags, rng.integers(5, 25))] for _ in range(1500)]
    ner_pred = [[t if rng.random() < 0.9 else str(rng.choice(tags)) for t in s] for s in ner_gold]
    ner = Card.model_validate(card_body("p-ner", task="token-classification", labels=sorted(set(tags)), metrics_=["seqeval_f1"], main_metric="seqeval_f1"))
    yield "seqeval_f1, 1.5k sentences", ner, "seqeval_f1", ner_gold, ner_pred, {}


def bench_case(name, card, metric, gold, pred, context, resamples, rng):
    replay = MetricReplay(card, metric, gold, pred, kit=context.get("kit"))
    idx = [rng.integers(0, len(gold), len(gold)) for _ in range(resamples)]
    t0 = time.perf_counter()
    fast = [replay.on(i) for i in idx]
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = [metrics.compute([metric], [replay.gold[j] for j in i], [replay.pred[j] for j in i], **context)[metric] for i in idx]
    t_slow = time.perf_counter() - t0
    assert np.allclose(fast, slow, atol=1e-12), name
    print(f"{name:32s} compute {1000 * t_slow / resamples:8.2f} ms/resample   replay {1000 * t_fast / resamples:7.3f} ms/resample   "
          f"speed-up x{t_slow / t_fast:7.1f}")


def bench_compare(resamples: int) -> None:
    from polyglue.report.compare import CompareRequest, compare
    from polyglue.report.leaderboard import definitions
    from polyglue.runs.store import Store
    from tests.fixtures.report_store import planted_store

    with tempfile.TemporaryDirectory() as tmp:
        root, registry = planted_store(Path(tmp), {"a": {"fx-sent": 0.85, "fx-nli": 0.75}, "b": {"fx-sent": 0.84, "fx-nli": 0.70}},
                                       seeds=3, n_test=5000)
        store = Store(Path(tmp) / "runs")
        suite, cards = definitions(registry, store, "fixsig")
        units = store.units(suite="fixsig")
        t0 = time.perf_counter()
        compare(suite, cards, units, Path(tmp) / "runs", CompareRequest("a", "b", n_bootstrap=resamples))
        store.close()
        print(f"compare(): 2 cards x 5000 test examples x 3 seeds, {resamples} resamples: {time.perf_counter() - t0:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resamples", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for case in cases(rng):
        bench_case(*case, args.resamples, rng)
    bench_compare(1000)


if __name__ == "__main__":
    main()
