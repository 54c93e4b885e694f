"""Metrics by the names cards use, computed with the reference libraries.

scikit-learn and scipy for classification and correlation, seqeval for entity F1, jiwer
for WER/CER; SQuAD v1.1 rules for QA with the language kit's answer normalisation.
All values are fractions in [0, 1] (or correlations in [-1, 1]); reports scale them.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from polyglue.cards import vocab

_REGISTRY: dict[str, Callable] = {}


def metric(name: str):
    def register(fn):
        if name not in vocab.METRICS:
            raise ValueError(f"metric '{name}' is not in polyglue.cards.vocab.METRICS")
        _REGISTRY[name] = fn
        return fn

    return register


def implemented() -> set[str]:
    return set(_REGISTRY)


def compute(names: list[str], gold, pred, **context) -> dict[str, float]:
    """Compute each named metric; `context` carries what some metrics need (kit, scores)."""
    return {name: float(_REGISTRY[name](gold, pred, **context)) for name in names}


higher_is_better = vocab.higher_is_better
"""Re-exported: the direction lives with the metric vocabulary."""


# --------------------------------------------------------------------------- classification


@metric("accuracy")
def accuracy(gold, pred, **_):
    from sklearn.metrics import accuracy_score

    return accuracy_score(gold, pred)


@metric("f1")
def f1(gold, pred, **_):
    """F1 of class 1, the positive class in GLUE/CLUE binary tasks (MRPC 'equivalent', QQP 'duplicate')."""
    from sklearn.metrics import f1_score

    return f1_score(gold, pred, pos_label=1, average="binary", zero_division=0)


@metric("macro_f1")
def macro_f1(gold, pred, **_):
    from sklearn.metrics import f1_score

    if len(gold) and isinstance(gold[0], (list, tuple)):
        gold, pred = [t for s in gold for t in s], [t for s in pred for t in s]
    return f1_score(gold, pred, average="macro", zero_division=0)


@metric("mcc")
def mcc(gold, pred, **_):
    from sklearn.metrics import matthews_corrcoef

    return matthews_corrcoef(gold, pred)


# --------------------------------------------------------------------------- regression


def _safe_corr(fn, gold, pred) -> float:
    gold, pred = np.asarray(gold, dtype=float), np.asarray(pred, dtype=float)
    if len(gold) < 2 or np.std(gold) == 0 or np.std(pred) == 0:
        return 0.0  # a constant prediction carries no rank information
    return float(fn(gold, pred)[0])


@metric("pearson")
def pearson(gold, pred, **_):
    from scipy.stats import pearsonr

    return _safe_corr(pearsonr, gold, pred)


@metric("spearman")
def spearman(gold, pred, **_):
    from scipy.stats import spearmanr

    return _safe_corr(spearmanr, gold, pred)


@metric("pearson_spearman_mean")
def pearson_spearman_mean(gold, pred, **_):
    return (pearson(gold, pred) + spearman(gold, pred)) / 2


# --------------------------------------------------------------------------- token classification


@metric("seqeval_f1")
def seqeval_f1(gold, pred, **_):
    """Entity-level micro F1 over IOB2 chunks; `gold`/`pred` are lists of tag-name lists."""
    import warnings

    from seqeval.metrics import f1_score

    with warnings.catch_warnings():  # CLUB scores UPOS tags with seqeval on purpose; its "not NE tag" warnings are noise
        warnings.simplefilter("ignore", UserWarning)
        return f1_score(gold, pred, zero_division=0)


@metric("token_accuracy")
def token_accuracy(gold, pred, **_):
    total = sum(len(s) for s in gold)
    right = sum(g == p for gs, ps in zip(gold, pred) for g, p in zip(gs, ps))
    return right / total if total else 0.0


# --------------------------------------------------------------------------- extractive QA


def _kit(context):
    """The card's language kit (`polyglue.langkits.kits.LangKit`): it defines answer equality.

    Passed in rather than defaulted here, because metrics sit below the text side.
    """
    kit = context.get("kit")
    if kit is None:
        raise ValueError("squad_em / squad_f1 need the card's language kit: metrics.compute(..., kit=get_kit(card.langkit))")
    return kit


@metric("squad_em")
def squad_em(gold, pred, **context):
    """SQuAD v1.1 exact match, max over each question's gold answers; `gold` is a list of answer lists.

    The language kit decides what "equal" means (SQuAD, MLQA-ca or CMRC2018 normalisation).
    """
    kit = _kit(context)
    scores = [max(kit.answer_em(p, g) for g in golds) if golds else 0.0 for golds, p in zip(gold, pred)]
    return float(np.mean(scores)) if scores else 0.0


@metric("squad_f1")
def squad_f1(gold, pred, **context):
    """Answer F1, max over gold answers (token bag for SQuAD/MLQA, longest common substring for CMRC2018)."""
    kit = _kit(context)
    scores = [max(kit.answer_f1(p, g) for g in golds) if golds else 0.0 for golds, p in zip(gold, pred)]
    return float(np.mean(scores)) if scores else 0.0


# --------------------------------------------------------------------------- speech


@metric("wer")
def wer(gold, pred, **_):
    import jiwer

    return jiwer.wer(list(gold), list(pred))


@metric("cer")
def cer(gold, pred, **_):
    import jiwer

    return jiwer.cer(list(gold), list(pred))


@metric("wer_lm")
def wer_lm(gold, pred, **_):
    """WER of the transcripts decoded with the language model (the same computation; its own name in results)."""
    return wer(gold, pred)


@metric("cer_lm")
def cer_lm(gold, pred, **_):
    return cer(gold, pred)


def _roc(gold, scores):
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(np.asarray(gold, dtype=int), np.asarray(scores, dtype=float), pos_label=1)
    return fpr, 1 - tpr, thresholds


@metric("eer")
def eer(gold, scores, **_):
    """Equal error rate of trials: `gold` 1 = same speaker, `scores` higher = more alike.

    The crossing of false-accept and false-reject curves, interpolated linearly between the
    two ROC points that bracket it (what s3prl's brentq over interp1d computes).
    """
    fpr, fnr, _ = _roc(gold, scores)
    diff = fnr - fpr
    i = int(np.nonzero(diff <= 0)[0][0])
    if i == 0 or diff[i] == 0:
        return float((fpr[i] + fnr[i]) / 2)
    # linear interpolation of the crossing between points i-1 and i
    w = diff[i - 1] / (diff[i - 1] - diff[i])
    return float(fpr[i - 1] + w * (fpr[i] - fpr[i - 1]))


@metric("min_dcf")
def min_dcf(gold, scores, p_target: float = 0.01, c_miss: float = 1.0, c_fa: float = 1.0, **_):
    """Minimum normalised detection cost over thresholds (NIST SRE definition)."""
    fpr, fnr, _ = _roc(gold, scores)
    dcf = c_miss * fnr * p_target + c_fa * fpr * (1 - p_target)
    return float(np.min(dcf) / min(c_miss * p_target, c_fa * (1 - p_target)))


# --------------------------------------------------------------------------- query by example

#: TWV costs: P_target 0.0008, C_miss 100, C_fa 1 (beta = C_fa / C_miss * (1 / P_target - 1) = 12.49), the
#: values the QUESST 2015 scorer `score-TWV-Cnxe.sh` sets; the formula is Kaldi's `kws-scoring.cc`.
#: Two choices no public scorer settles: (1) MTWV is clipped at 0 (the threshold above every score detects
#: nothing, TWV 0); (2) a query whose every document is a target has no false-alarm term (P_fa = 0) and
#: counts among the Q queries.
TWV_P_TARGET, TWV_C_MISS, TWV_C_FA = 0.0008, 100.0, 1.0


def _by_query(gold, scores, queries):
    if queries is None:
        raise ValueError("query-by-example metrics need `queries` (the query id of every trial)")
    gold, scores, queries = np.asarray(gold, dtype=int), np.asarray(scores, dtype=float), np.asarray(queries)
    if not (len(gold) == len(scores) == len(queries)):
        raise ValueError("gold, scores and queries differ in length")
    return gold, scores, queries


def twv_beta(p_target: float = TWV_P_TARGET, c_miss: float = TWV_C_MISS, c_fa: float = TWV_C_FA) -> float:
    return c_fa / c_miss * (1.0 / p_target - 1.0)


@metric("mtwv")
def mtwv(gold, scores, queries=None, p_target: float = TWV_P_TARGET, c_miss: float = TWV_C_MISS, c_fa: float = TWV_C_FA, **_):
    """Maximum term-weighted value over one global threshold (NIST STD definition, document level).

    TWV(t) = 1 - mean over queries with a target of [P_miss(q, t) + beta * P_fa(q, t)], where a
    trial (query, document) is detected when its score is >= t and P_fa counts over the
    query's non-target documents. One pass over the trials sorted by score: lowering the
    threshold past a target of q adds 1 / (Q * targets(q)), past a non-target subtracts
    beta / (Q * non-targets(q)). Detecting nothing gives 0, so MTWV >= 0.
    """
    gold, scores, queries = _by_query(gold, scores, queries)
    names, inverse = np.unique(queries, return_inverse=True)
    targets = np.bincount(inverse, weights=gold, minlength=len(names))
    trials = np.bincount(inverse, minlength=len(names))
    counted = targets > 0
    n_queries = int(counted.sum())
    if n_queries == 0:
        return 0.0
    beta = twv_beta(p_target, c_miss, c_fa)
    nontargets = trials - targets
    gain = np.where(gold == 1, 1.0 / np.maximum(targets[inverse], 1), -beta / np.maximum(nontargets[inverse], 1))
    gain = np.where(counted[inverse], gain, 0.0) / n_queries
    order = np.argsort(-scores, kind="stable")
    cumulative = np.cumsum(gain[order])
    sorted_scores = scores[order]
    last_of_tie = np.append(sorted_scores[1:] != sorted_scores[:-1], True)
    return float(max(0.0, cumulative[last_of_tie].max()))


@metric("map")
def mean_average_precision(gold, scores, queries=None, **_):
    """Mean over queries with at least one target of the average precision of their document ranking."""
    from sklearn.metrics import average_precision_score

    gold, scores, queries = _by_query(gold, scores, queries)
    values = []
    for query in np.unique(queries):
        sel = queries == query
        if gold[sel].sum() > 0:
            values.append(average_precision_score(gold[sel], scores[sel]))
    return float(np.mean(values)) if values else 0.0
