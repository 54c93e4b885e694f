"""Query-by-example scoring: subsequence DTW over frame features, as s3prl's `quesst14_dtw`.

For one layer: features are standardised per dimension over all query and document frames;
the frame distance is `exp(cosine distance) - 1`, min-max normalised along each query frame
(row) of each (query, document) matrix; subsequence DTW with dtw-python's `asymmetric` step
pattern (every query frame is used once, the document advances by 0, 1 or 2 frames) and
open begin and end gives a cost, normalised by the query length; the score is its negative.
Queries shorter than 5 frames score 0 everywhere. Scores are then z-normalised per query.

The recursion runs one query frame at a time over all documents at once (padded with +inf),
so a (query, layer) costs `query_frames` vectorised numpy steps.
"""

from __future__ import annotations

import numpy as np

MIN_QUERY_FRAMES = 5
DOC_CHUNK_VALUES = 20_000_000
"""Cap on query_frames x document frames held at once (float64)."""


def moments(blocks: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and std (ddof 1, floored at 1e-9) over the frames of all blocks `(frames, dim)`,
    accumulated block by block in float64 (no concatenated copy of the corpus)."""
    count = sum(len(b) for b in blocks)
    total = sum(b.sum(0, dtype=np.float64) for b in blocks)
    mean = total / count
    squares = sum(((b - mean) ** 2).sum(0) for b in blocks)
    std = np.sqrt(squares / (count - 1)) if count > 1 else np.ones_like(mean)
    return mean, np.clip(std, 1e-9, None)


def standardize(blocks: list[np.ndarray]) -> list[np.ndarray]:
    """Per-dimension zero mean, unit std (`moments`) over the frames of all blocks; float32 out."""
    mean, std = moments(blocks)
    return [((b - mean) / std).astype(np.float32) for b in blocks]


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.clip(norm, 1e-12, None)


def cost_matrix(query: np.ndarray, doc: np.ndarray) -> np.ndarray:
    """`(query_frames, doc_frames)`: exp(cosine distance) - 1, min-max normalised per row."""
    dist = np.exp(1.0 - _unit_rows(query) @ _unit_rows(doc).T) - 1.0
    low, high = dist.min(1, keepdims=True), dist.max(1, keepdims=True)
    return (dist - low) / np.clip(high - low, 1e-9, None)


def subsequence_dtw(costs: np.ndarray) -> np.ndarray:
    """Normalised cost of the best subsequence alignment for each document.

    `costs`: `(docs, query_frames, doc_frames)`, +inf on padding. Returns `(docs,)`:
    min over end frames of D[N-1, j] / N with D[0, j] = C[0, j] and
    D[i, j] = C[i, j] + min(D[i-1, j], D[i-1, j-1], D[i-1, j-2]).
    """
    n_docs, n_query, _ = costs.shape
    inf = np.full((n_docs, 2), np.inf)
    previous = costs[:, 0, :].copy()
    for i in range(1, n_query):
        shifted1 = np.concatenate([inf[:, :1], previous[:, :-1]], axis=1)
        shifted2 = np.concatenate([inf, previous[:, :-2]], axis=1)
        previous = costs[:, i, :] + np.minimum(np.minimum(previous, shifted1), shifted2)
    return previous.min(axis=1) / n_query


def query_scores(query: np.ndarray, docs: list[np.ndarray]) -> np.ndarray:
    """Raw scores (negative normalised DTW cost) of one query against every document."""
    if len(query) < MIN_QUERY_FRAMES:
        return np.zeros(len(docs))
    out = np.empty(len(docs))
    start = 0
    while start < len(docs):
        stop, longest = start, 0
        while stop < len(docs):
            longest_next = max(longest, len(docs[stop]))
            if stop > start and len(query) * longest_next * (stop - start + 1) > DOC_CHUNK_VALUES:
                break
            longest, stop = longest_next, stop + 1
        costs = np.full((stop - start, len(query), longest), np.inf)
        for row, doc in enumerate(docs[start:stop]):
            costs[row, :, : len(doc)] = cost_matrix(query, doc)
        out[start:stop] = -subsequence_dtw(costs)
        start = stop
    return out


def znorm(scores: np.ndarray) -> np.ndarray:
    """Per-query z-normalisation of its scores over all documents."""
    return (scores - scores.mean()) / max(float(scores.std()), 1e-9)


def score_layer(queries: list[np.ndarray], docs: list[np.ndarray]) -> np.ndarray:
    """`(queries, docs)` z-normalised detection scores for one layer's features."""
    normed = standardize(list(queries) + list(docs))
    q_feats, d_feats = normed[: len(queries)], normed[len(queries) :]
    return np.stack([znorm(query_scores(q, d_feats)) for q in q_feats]) if queries else np.zeros((0, len(docs)))
