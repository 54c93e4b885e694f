"""Speech metrics against independent reference computations (written out here, slowly and plainly)."""

from __future__ import annotations

import numpy as np
import pytest

from polyglue import metrics
from polyglue.speech import dtw


def _levenshtein(a: list, b: list) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


REFS = ["नमस्ते दुनिया आज", "वणक्कम் உலகம்", "a b c d", "the cat sat"]
HYPS = ["नमस्ते दुनिया", "வணக்கம் உலகம் இன்று", "a x c d e", ""]


def test_wer_matches_word_level_edit_distance_over_reference_words():
    expected = sum(_levenshtein(r.split(), h.split()) for r, h in zip(REFS, HYPS)) / sum(len(r.split()) for r in REFS)
    assert metrics.wer(REFS, HYPS) == pytest.approx(expected)
    assert expected == pytest.approx(8 / 12)  # 1 deletion; 1 substitution + 1 insertion (twice); 3 deletions


def test_cer_matches_character_level_edit_distance_over_reference_characters():
    expected = sum(_levenshtein(list(r), list(h)) for r, h in zip(REFS, HYPS)) / sum(len(r) for r in REFS)
    assert metrics.cer(REFS, HYPS) == pytest.approx(expected)


def _eer_reference(gold, scores):
    """s3prl's EER: brentq on the interpolated ROC (sklearn roc_curve + scipy)."""
    from scipy.interpolate import interp1d
    from scipy.optimize import brentq
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(gold, scores, pos_label=1)
    return brentq(lambda x: 1.0 - x - interp1d(fpr, tpr)(x), 0.0, 1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_eer_matches_the_brentq_reference(seed):
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 2, 400)
    scores = rng.normal(size=400) + 1.2 * gold
    assert metrics.eer(gold, scores) == pytest.approx(_eer_reference(gold, scores), abs=2e-3)


def test_eer_of_perfectly_separated_and_inverted_scores():
    gold = [0, 0, 1, 1]
    assert metrics.eer(gold, [0.1, 0.2, 0.8, 0.9]) == pytest.approx(0.0)
    assert metrics.eer(gold, [0.9, 0.8, 0.2, 0.1]) == pytest.approx(1.0)


def test_min_dcf_matches_a_sweep_over_every_threshold():
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 2, 300)
    scores = rng.normal(size=300) + gold
    best = np.inf
    for t in np.concatenate([np.unique(scores), [np.inf]]):
        accept = scores >= t
        p_miss = np.mean(~accept[gold == 1])
        p_fa = np.mean(accept[gold == 0])
        best = min(best, (0.01 * p_miss + 0.99 * p_fa) / min(0.01, 0.99))
    assert metrics.min_dcf(gold, scores) == pytest.approx(best)


def _mtwv_reference(gold, scores, queries, beta):
    best = 0.0
    for t in np.unique(scores):
        values = []
        for q in np.unique(queries):
            sel = queries == q
            g, detected = gold[sel], scores[sel] >= t
            if g.sum() == 0:
                continue
            p_miss = 1 - (detected & (g == 1)).sum() / g.sum()
            p_fa = (detected & (g == 0)).sum() / (g == 0).sum()
            values.append(p_miss + beta * p_fa)
        best = max(best, 1 - np.mean(values))
    return best


@pytest.mark.parametrize("seed", [0, 1])
def test_mtwv_matches_a_threshold_sweep_of_the_twv_definition(seed):
    rng = np.random.default_rng(seed)
    queries = np.repeat([f"q{i}" for i in range(6)], 30)
    gold = (rng.random(len(queries)) < 0.15).astype(int)
    gold[::30] = 1  # every query has a target
    gold[1::30] = 0
    scores = np.round(rng.normal(size=len(queries)) + 2.0 * gold, 1)  # rounding makes ties
    value = metrics.mtwv(gold, scores, queries=queries)
    assert value == pytest.approx(_mtwv_reference(gold, scores, queries, metrics.twv_beta()))
    assert metrics.twv_beta() == pytest.approx(12.49)


def test_mtwv_is_one_for_perfect_detection_and_zero_when_nothing_helps():
    queries = np.array(["a"] * 4 + ["b"] * 4)
    gold = np.array([1, 0, 0, 0, 0, 1, 0, 0])
    assert metrics.mtwv(gold, gold * 5.0, queries=queries) == pytest.approx(1.0)
    assert metrics.mtwv(gold, -gold * 5.0, queries=queries) == pytest.approx(0.0)


def test_map_is_the_mean_of_per_query_average_precision():
    queries = np.array(["a"] * 4 + ["b"] * 4 + ["c"] * 2)
    gold = np.array([1, 0, 1, 0, 0, 0, 1, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.1, 0.9, 0.8, 0.7, 0.1, 0.5, 0.4])
    # a: hits at ranks 1 and 3 -> (1 + 2/3) / 2; b: hit at rank 3 -> 1/3; c has no target and is skipped
    assert metrics.mean_average_precision(gold, scores, queries=queries) == pytest.approx(((1 + 2 / 3) / 2 + 1 / 3) / 2)


def test_qbe_metrics_refuse_trials_without_query_ids():
    with pytest.raises(ValueError, match="queries"):
        metrics.mtwv([1, 0], [0.5, 0.1])


def _subsequence_dtw_reference(cost: np.ndarray) -> float:
    """dtw-python's asymmetric step pattern with open begin and end, written as plain loops."""
    n, m = cost.shape
    acc = np.full((n, m), np.inf)
    acc[0] = cost[0]
    for i in range(1, n):
        for j in range(m):
            options = [acc[i - 1, j]]
            if j >= 1:
                options.append(acc[i - 1, j - 1])
            if j >= 2:
                options.append(acc[i - 1, j - 2])
            acc[i, j] = cost[i, j] + min(options)
    return acc[-1].min() / n


def test_vectorised_subsequence_dtw_matches_the_loop_reference_for_ragged_documents():
    rng = np.random.default_rng(4)
    query = rng.normal(size=(7, 5))
    docs = [rng.normal(size=(m, 5)) for m in (9, 14, 20)]
    expected = [-_subsequence_dtw_reference(dtw.cost_matrix(query, d)) for d in docs]
    assert dtw.query_scores(query, docs) == pytest.approx(expected)


def test_dtw_finds_a_query_embedded_in_a_document():
    rng = np.random.default_rng(5)
    query = rng.normal(size=(8, 6))
    holder = np.concatenate([rng.normal(size=(10, 6)), query + 0.01 * rng.normal(size=query.shape), rng.normal(size=(10, 6))])
    others = [rng.normal(size=(28, 6)) for _ in range(11)]
    scores = dtw.score_layer([query], [holder, *others])[0]
    assert int(np.argmax(scores)) == 0
    assert scores[0] > 2.0  # a detection at s3prl's z > 2 threshold
    assert scores.mean() == pytest.approx(0.0, abs=1e-9)


def test_queries_shorter_than_five_frames_score_zero_everywhere():
    assert dtw.query_scores(np.ones((4, 3)), [np.ones((10, 3))]).tolist() == [0.0]


def test_cosine_exp_cost_rows_are_min_max_normalised():
    rng = np.random.default_rng(6)
    cost = dtw.cost_matrix(rng.normal(size=(5, 4)), rng.normal(size=(9, 4)))
    assert cost.min(1) == pytest.approx(np.zeros(5))
    assert cost.max(1) == pytest.approx(np.ones(5))


def test_standardisation_pools_every_frame_of_every_block():
    rng = np.random.default_rng(7)
    blocks = [rng.normal(3.0, 2.0, (n, 4)) for n in (5, 9, 2)]
    stacked = np.concatenate(blocks)
    expected = (stacked - stacked.mean(0)) / stacked.std(0, ddof=1)  # torch's std, as s3prl uses
    assert np.concatenate(dtw.standardize(blocks)) == pytest.approx(expected, abs=1e-5)
