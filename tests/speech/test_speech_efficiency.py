"""Efficiency figures of the speech units that train no utterance head: ASR's BiLSTM-CTC path and QbE's search."""

from __future__ import annotations

import pytest


def test_given_the_bilstm_ctc_head_then_torch_counts_its_lstm_as_a_hand_count_within_1_percent():
    """torch's counter decomposes `aten.lstm` into per-step matmuls: per time step and direction an
    LSTM layer does 4·hidden·(input + hidden) multiply-adds (4 gates, input and recurrent weights)."""
    import torch

    from polyglue.efficiency import count_flops
    from polyglue.speech.heads.ctc import BiLSTMCTC

    features, project, hidden, vocab, frames = 24, 40, 32, 9, 30
    head = BiLSTMCTC(features, vocab, project_dim=project, hidden_dim=hidden).eval()
    with torch.inference_mode():
        counted = count_flops(lambda: head(torch.randn(1, frames, features), torch.tensor([frames])))
    lstm = 2 * frames * (4 * hidden * (project + hidden) + 4 * hidden * (2 * hidden + hidden))  # 2 directions, layers 1 and 2
    multiply_adds = frames * features * project + lstm + frames * 2 * hidden * (vocab + 1)
    assert abs(counted - 2 * multiply_adds) <= 0.01 * 2 * multiply_adds, (counted, 2 * multiply_adds)


@pytest.mark.parametrize("encoder", ["fbank", "w2v"])
def test_given_asr_and_qbe_units_then_they_store_efficiency_figures_of_the_whole_path(suite_run, encoder):
    asr = suite_run.units[("indicsuperb-asr", encoder)]["extras"]
    record = asr["efficiency"]
    assert record["flops_per_example"] > 0 and record["latency_ms_batch1"] > 0 and record["throughput_per_s"] > 0
    assert record["audio_seconds_per_example"] > 0 and record["throughput_source"] == "measured batches"  # its pass reads cached features
    assert 0 < record["parameters"]["trainable"] <= record["parameters"]["total"]
    assert 0 < asr["timings"]["efficiency_s"] < asr["timings"]["total_s"]

    qbe = suite_run.units[("indicsuperb-qbe", encoder)]["extras"]
    record = qbe["efficiency"]
    assert record["parameters"]["trainable"] == 0  # no training: the upstream is frozen, the search has no weights
    assert record["flops_outside_torch_per_example"] > 0
    # the upstream's own matmuls (torch's count) come on top of the search's
    assert record["flops_per_example"] > record["flops_outside_torch_per_example"]
    assert "document index" in record["example"] and f"layer {qbe['selection']['chosen']}" in record["example"]


def test_given_a_query_then_the_dtw_flops_are_its_cosine_similarities_with_every_document_by_hand(suite_run, kathbath_root):
    """2 · query frames · hidden · all document frames, averaged over the FLOP sample of the scored test queries."""
    from polyglue.cards.registry import Registry
    from polyglue.efficiency import FLOP_SAMPLE
    from polyglue.encoders import parse_encoder
    from polyglue.speech.audio import read_audio
    from polyglue.speech.corpus.kathbath import KathbathCorpus
    from polyglue.speech.dtw import MIN_QUERY_FRAMES
    from polyglue.speech.languages import select_languages
    from polyglue.speech.upstreams import build_upstream
    from tests.speech.conftest import OTHER_FLAGS

    card = Registry.discover().card("indicsuperb-qbe").card
    qbe = KathbathCorpus(kathbath_root).qbe({role: spec.name for role, spec in card.splits.roles().items() if role != "train"})
    limit = int(OTHER_FLAGS[OTHER_FLAGS.index("--limit") + 1])
    scored = [r for r in card.splits.scored_roles() if qbe.queries.get(r)]
    keys = select_languages(card.languages, None)
    test = qbe.queries[scored[-1]]
    # the runner's language restriction (none when queries carry no language), then --limit
    queries = [q for q in test if q.language in keys or not any(u.language for u in test)][:limit]
    upstream = build_upstream(parse_encoder("fbank"), "cpu")

    def frames(utt) -> int:
        return upstream.forward([read_audio(utt.path)])[0].shape[0]

    extras = suite_run.units[("indicsuperb-qbe", "fbank")]["extras"]
    hidden, doc_frames = extras["upstream"]["hidden"], sum(frames(d) for d in qbe.docs)
    per_query = [2 * frames(q) * hidden * doc_frames if frames(q) >= MIN_QUERY_FRAMES else 0 for q in queries[:FLOP_SAMPLE]]
    assert extras["efficiency"]["flops_outside_torch_per_example"] == int(sum(per_query) / len(per_query)) > 0


def test_given_the_suite_run_then_report_columns_efficiency_shows_asr_and_qbe_figures(cli, suite_run):
    import json

    out = cli("report", "--suite", "indicsuperb", "--runs-dir", suite_run.runs_dir, "--columns", "efficiency", "--format", "json")
    assert out.code == 0, out.err
    rows = {(r["card"], r["encoder"]): r for r in json.loads(out.out)["rows"]}
    for card in ("indicsuperb-asr", "indicsuperb-qbe"):
        for encoder in ("fbank", "w2v"):
            stored = suite_run.units[(card, encoder)]["extras"]["efficiency"]
            assert rows[(card, encoder)]["flops_per_example"] == stored["flops_per_example"] > 0
            assert rows[(card, encoder)]["latency_ms_batch1"] > 0
