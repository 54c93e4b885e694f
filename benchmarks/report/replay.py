"""Replay a card's metrics from stored per-example predictions, on the full split or on a resample.

`bench compare` recomputes metrics thousands of times on bootstrap resamples. The value on
the full split always comes from `polyglue.metrics.compute` (the same code the runners
score with). On resamples, metrics that are sums over examples (accuracy and the other
confusion-matrix metrics, SQuAD EM/F1, token accuracy, WER/CER, seqeval entity F1) use
per-example statistics computed once, and Pearson/Spearman are computed with numpy on the
resampled arrays; both give what `compute` gives on the resampled lists (tests check it to
1e-12); any other metric (EER, minDCF) calls `compute` on the resample.

Speech cards scored per language report the mean over the languages present, as the
runners do, so a resample is scored per language and averaged too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from polyglue import metrics
from polyglue.cards import vocab
from polyglue.cards.schema import Card
from polyglue.errors import DataError

CONFUSION_METRICS = frozenset({"accuracy", "f1", "macro_f1", "mcc"})
VERIFICATION_TASKS = frozenset({"speaker-verification"})
#: Tasks with one label per example, where McNemar's test on per-example correctness applies.
SINGLE_LABEL_TASKS = frozenset(
    {"single-classification", "pair-classification", "multiple-choice", "keyword-spotting", "language-id", "speaker-id"}
)


def replayable(metric: str) -> bool:
    return metric in metrics.implemented()


# --------------------------------------------------------------------------- loading and pairing


def load_records(runs_dir: Path, unit: dict) -> list[dict]:
    """The stored prediction records of one unit; a `DataError` naming the unit when there are none."""
    where = f"{unit['card']} · {unit['encoder']} · seed {unit['seed']}"
    rel = unit.get("predictions_path")
    if not rel:
        raise DataError(f"{where}: no per-example predictions were stored for this unit (rerun it with `bench run ... --force`)")
    path = Path(runs_dir) / rel
    if not path.exists():
        raise DataError(f"{where}: predictions file {path} is missing (moved or deleted?); rerun with `bench run ... --force`")
    from polyglue import jsonl

    return jsonl.read_jsonl(path)


class PairedSplit:
    """One split of one card, both models, every common seed: the same examples in the same order.

    `gold[i]`, `language[i]` and `preds[(model, seed)][i]` belong to example `ids[i]`.
    For verification trials the prediction is the trial score.
    """

    def __init__(self, card: Card, split: str, records: dict[tuple[str, int], list[dict]]):
        self.card, self.split = card, split
        score_key = "score" if card.task in VERIFICATION_TASKS else "pred"
        by_key = {}
        for key, recs in records.items():
            rows = {}
            for rec in recs:
                if rec.get("split") != split:
                    continue
                rid = str(rec.get("id"))
                if rid in rows:
                    raise DataError(f"{card.name}/{split}: example id '{rid}' appears twice in the predictions of {key[0]} seed {key[1]}")
                rows[rid] = rec
            by_key[key] = rows
        first_key = next(iter(by_key))
        self.ids = sorted(by_key[first_key])
        ids = set(self.ids)
        for key, rows in by_key.items():
            if set(rows) != ids:
                only_here, only_there = len(set(rows) - ids), len(ids - set(rows))
                raise DataError(
                    f"{card.name}/{split}: {key[0]} seed {key[1]} was scored on other examples than {first_key[0]} seed "
                    f"{first_key[1]} ({only_here} id(s) only in the first, {only_there} only in the second); pairing needs the "
                    "same examples (same data and --limit)"
                )
        if not self.ids:
            raise DataError(f"{card.name}/{split}: no stored predictions for this split")
        base = by_key[first_key]
        self.gold = [base[i].get("gold") for i in self.ids]
        for key, rows in by_key.items():
            for i in self.ids:
                if rows[i].get("gold") != base[i].get("gold"):
                    raise DataError(f"{card.name}/{split}: example '{i}' has another gold value for {key[0]} seed {key[1]}; were they run on different data?")
        langs = [base[i].get("language") for i in self.ids]
        self.language = langs if card.modality == "speech" and any(l is not None for l in langs) else None
        self.preds = {key: [rows[i].get(score_key) for i in self.ids] for key, rows in by_key.items()}

    def __len__(self) -> int:
        return len(self.ids)

    def correct(self, key: tuple[str, int]) -> np.ndarray:
        """Per-example correctness of one model and seed (single-label tasks)."""
        return np.array([p == g for p, g in zip(self.preds[key], self.gold)], dtype=bool)


# --------------------------------------------------------------------------- one metric on resamples


def _confusion_metric(metric: str, conf: np.ndarray) -> float:
    """`metric` from a confusion matrix (rows gold, columns predicted), as scikit-learn defines it."""
    conf = conf.astype(np.float64)  # products of counts overflow int64 on large splits
    total = conf.sum()
    tp = np.diag(conf)
    if metric == "accuracy":
        return float(tp.sum() / total) if total else 0.0
    gold_n, pred_n = conf.sum(1), conf.sum(0)
    if metric == "f1":  # positive class = label index 1, zero_division=0
        denom = gold_n[1] + pred_n[1] if len(tp) > 1 else 0
        return float(2 * tp[1] / denom) if denom else 0.0
    if metric == "macro_f1":  # over the labels present in gold or predictions
        present = (gold_n + pred_n) > 0
        f1s = 2 * tp[present] / (gold_n[present] + pred_n[present])
        return float(f1s.mean()) if present.any() else 0.0
    # mcc, sklearn.metrics.matthews_corrcoef
    cov_tp = tp.sum() * total - gold_n @ pred_n
    cov_pp = total**2 - pred_n @ pred_n
    cov_tt = total**2 - gold_n @ gold_n
    if cov_pp * cov_tt == 0:
        return 0.0
    return float(cov_tp / np.sqrt(cov_tt * cov_pp))


class MetricReplay:
    """One metric of one card for one (model, seed) on a split; `on(idx)` scores the examples `idx`."""

    def __init__(self, card: Card, metric: str, gold: list, pred: list, language: list | None = None, kit=None):
        self.card, self.metric, self.kit = card, metric, kit
        if card.labels and card.task in vocab.LABELLED_TASKS and card.task != "token-classification":
            index = {name: i for i, name in enumerate(card.labels)}
            unknown = sorted({str(v) for v in list(gold) + list(pred) if v not in index})
            if unknown:
                raise DataError(f"{card.name}: stored labels {', '.join(unknown[:5])} are not among the card's labels")
            gold, pred = [index[v] for v in gold], [index[v] for v in pred]
        self.gold, self.pred = gold, pred
        self.groups = None
        if language is not None:
            langs = np.asarray([str(l) for l in language])
            self.groups = {l: np.flatnonzero(langs == l) for l in sorted(set(langs.tolist()))}
            self.lang_of = langs
        self._prepare()

    # ----------------------------------------------------------------- fast statistics, computed once
    def _prepare(self) -> None:
        m, card = self.metric, self.card
        self.kind = "generic"
        if m in CONFUSION_METRICS and card.task != "token-classification" and card.task not in VERIFICATION_TASKS:
            classes = {v: i for i, v in enumerate(sorted(set(self.gold) | set(self.pred), key=str))}
            if card.labels and card.task in vocab.LABELLED_TASKS:
                classes = {i: i for i in range(len(card.labels))}
            self.n_classes = len(classes)
            self.codes = np.array([classes[g] * self.n_classes + classes[p] for g, p in zip(self.gold, self.pred)], dtype=np.int64)
            self.kind = "confusion"
        elif m in ("squad_em", "squad_f1"):
            self.per_example = np.array([metrics.compute([m], [g], [p], kit=self.kit)[m] for g, p in zip(self.gold, self.pred)])
            self.kind = "mean"
        elif m == "token_accuracy":
            self.num = np.array([sum(a == b for a, b in zip(g, p)) for g, p in zip(self.gold, self.pred)], dtype=float)
            self.den = np.array([len(g) for g in self.gold], dtype=float)
            self.kind = "ratio"
        elif m in ("wer", "cer") and all(isinstance(g, str) and g.strip() for g in self.gold):
            import jiwer

            process = jiwer.process_words if m == "wer" else jiwer.process_characters
            outs = [process(g, p if isinstance(p, str) else "") for g, p in zip(self.gold, self.pred)]
            self.num = np.array([o.substitutions + o.deletions + o.insertions for o in outs], dtype=float)
            self.den = np.array([o.substitutions + o.deletions + o.hits for o in outs], dtype=float)
            self.kind = "ratio"
        elif m in ("pearson", "spearman", "pearson_spearman_mean"):
            self.gold_arr, self.pred_arr = np.asarray(self.gold, dtype=float), np.asarray(self.pred, dtype=float)
            self.kind = "correlation"
        elif m == "seqeval_f1":
            from seqeval.metrics.sequence_labeling import get_entities

            counts = []
            for g, p in zip(self.gold, self.pred):
                ge, pe = set(get_entities(list(g))), set(get_entities(list(p)))
                counts.append((len(ge & pe), len(pe), len(ge)))
            columns: list[np.ndarray] = [np.array(c, dtype=float) for c in zip(*counts)] if counts else [np.zeros(0)] * 3
            self.tp, self.n_pred, self.n_gold = columns[0], columns[1], columns[2]
            self.kind = "entities"

    # ----------------------------------------------------------------- scoring
    def full(self) -> float:
        """The metric on every example, through `polyglue.metrics.compute`."""
        return self._score_generic(np.arange(len(self.gold)))

    def on(self, idx: np.ndarray) -> float:
        """The metric on the examples `idx` (indices may repeat: a bootstrap resample)."""
        if self.groups is None:
            return self._score(idx)
        langs = self.lang_of[idx]
        values = [self._score(idx[langs == lang]) for lang in self.groups if (langs == lang).any()]
        return float(np.mean(values))

    def _score(self, idx: np.ndarray) -> float:
        if self.kind == "confusion":
            conf = np.bincount(self.codes[idx], minlength=self.n_classes**2).reshape(self.n_classes, self.n_classes)
            return _confusion_metric(self.metric, conf)
        if self.kind == "mean":
            return float(self.per_example[idx].mean()) if len(idx) else 0.0
        if self.kind == "ratio":
            den = self.den[idx].sum()
            return float(self.num[idx].sum() / den) if den else 0.0
        if self.kind == "correlation":
            return self._correlation(self.gold_arr[idx], self.pred_arr[idx])
        if self.kind == "entities":
            denom = self.n_pred[idx].sum() + self.n_gold[idx].sum()
            return float(2 * self.tp[idx].sum() / denom) if denom else 0.0
        return self._score_generic(idx)

    def _correlation(self, gold: np.ndarray, pred: np.ndarray) -> float:
        """Pearson / Spearman / their mean, with `polyglue.metrics`' rule that constant input scores 0."""
        if len(gold) < 2 or np.std(gold) == 0 or np.std(pred) == 0:
            return 0.0

        def pearson(x, y):
            xc, yc = x - x.mean(), y - y.mean()
            return float(np.clip(xc @ yc / np.sqrt((xc @ xc) * (yc @ yc)), -1.0, 1.0))

        if self.metric == "pearson":
            return pearson(gold, pred)
        from scipy.stats import rankdata

        spearman = pearson(rankdata(gold), rankdata(pred))
        return spearman if self.metric == "spearman" else (pearson(gold, pred) + spearman) / 2

    def _score_generic(self, idx: np.ndarray) -> float:
        if self.groups is not None and len(idx) == len(self.gold) and np.array_equal(idx, np.arange(len(self.gold))):
            return float(np.mean([self._compute(g) for g in self.groups.values()]))
        return self._compute(idx)

    def _compute(self, idx: np.ndarray) -> float:
        gold = [self.gold[i] for i in idx]
        pred = [self.pred[i] for i in idx]
        return metrics.compute([self.metric], gold, pred, kit=self.kit)[self.metric]
