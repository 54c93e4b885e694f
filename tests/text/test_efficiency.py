"""Efficiency figures: torch's FLOP count of a tiny encoder equals a hand count; the record is complete."""

from __future__ import annotations

import pytest

D, LAYERS, HEADS, INTER, N, CLASSES = 32, 2, 2, 64, 10, 3


def _tiny(attention: str):
    import transformers

    config = transformers.BertConfig(
        vocab_size=100, hidden_size=D, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
        intermediate_size=INTER, max_position_embeddings=64, num_labels=CLASSES,
    )
    return transformers.BertForSequenceClassification._from_config(config, attn_implementation=attention).eval()


def hand_count(n: int) -> int:
    """Multiply-adds × 2 of a BERT forward at batch 1, n tokens (what torch counts: matmuls only).

    Per layer: Q, K, V and output projections 4·(n·d·d); attention scores Q·Kᵀ and the weighted
    sum of V n·n·d each (over all heads); FFN up and down 2·(n·d·i). Then the pooler (d·d, the
    first token only) and the classifier (d·C).
    """
    per_layer = 4 * n * D * D + 2 * n * n * D + 2 * n * D * INTER
    return 2 * (LAYERS * per_layer + D * D + D * CLASSES)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_given_a_tiny_bert_then_the_flop_count_equals_the_hand_count_within_1_percent(attention):
    import torch

    from polyglue.langkits.efficiency import count_flops

    model = _tiny(attention)
    ids = torch.randint(5, 100, (1, N))
    with torch.inference_mode():
        flops = count_flops(lambda: model(input_ids=ids, attention_mask=torch.ones_like(ids)))
    assert abs(flops - hand_count(N)) <= 0.01 * hand_count(N), (flops, hand_count(N))


def test_given_features_then_measure_records_every_figure_with_its_convention():
    import torch

    from polyglue.langkits.efficiency import measure

    torch.manual_seed(0)
    model = _tiny("sdpa")
    features = [{"input_ids": [2] + [7] * (N - 2) + [3], "labels": 0} for _ in range(12)]

    def outputs(m, batch):
        return list(m(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits)

    record = measure(model, features, outputs, pad_id=0, batch_size=4, device="cpu")
    total = sum(p.numel() for p in model.parameters())
    assert record["parameters"] == {"total": total, "trainable": total}
    assert record["flops_per_example"] == hand_count(N)
    assert record["tokens_per_example"] == N
    assert record["latency_ms_batch1"] > 0 and record["throughput_per_s"] > 0
    assert record["throughput_batch_size"] == 4
    assert record["peak_memory_mb"] > 0 and record["peak_memory_kind"] == "process peak RSS"
    assert "2 per multiply-add" in record["flop_convention"]


def test_given_the_same_model_and_lengths_again_then_flops_come_from_the_cache_and_a_changed_model_is_recounted():
    import torch

    from polyglue import efficiency as shared
    from polyglue.langkits import efficiency

    torch.manual_seed(0)
    model = _tiny("sdpa")
    features = [{"input_ids": [2] + [7] * (N - 2) + [3], "labels": 0} for _ in range(6)]

    def outputs(m, batch):
        return list(m(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits)

    shared._FLOPS.clear()
    first = efficiency.measure(model, features, outputs, pad_id=0, batch_size=4, device="cpu")
    # four features of one length: counted once, then read back for the other three
    assert first["flops_cached"] == efficiency.FLOP_SAMPLE - 1 and first["flops_per_example"] == hand_count(N)
    calls = []
    real = shared.count_flops
    shared.count_flops = lambda run: calls.append(1) or real(run)
    try:
        again = efficiency.measure(model, features, outputs, pad_id=0, batch_size=4, device="cpu")
        assert calls == [] and again["flops_cached"] == efficiency.FLOP_SAMPLE and again["flops_per_example"] == hand_count(N)
        longer = [{"input_ids": [2] + [7] * N + [3], "labels": 0}]
        assert efficiency.measure(model, longer, outputs, pad_id=0, batch_size=4, device="cpu")["flops_per_example"] == hand_count(N + 2)
        assert calls == [1]
        import transformers

        wider = transformers.BertForSequenceClassification._from_config(
            transformers.BertConfig(vocab_size=100, hidden_size=D, num_hidden_layers=LAYERS + 1, num_attention_heads=HEADS,
                                    intermediate_size=INTER, max_position_embeddings=64, num_labels=CLASSES), attn_implementation="sdpa").eval()
        efficiency.measure(wider, features[:1], outputs, pad_id=0, batch_size=4, device="cpu")
        assert calls == [1, 1]  # another config: counted, not read from the smaller model's entry
    finally:
        shared.count_flops = real
    assert efficiency.MIN_SAMPLE <= first["sample"] <= efficiency.SAMPLE and 1 <= first["batches"] <= efficiency.THROUGHPUT_BATCHES


def test_given_the_units_prediction_pass_then_measure_takes_its_throughput_and_runs_no_batches_nor_warm_up():
    import torch

    from polyglue import efficiency

    layer = torch.nn.Linear(8, 2)
    calls: list[int] = []

    def forward(items):
        calls.append(len(items))
        layer(torch.stack(items))

    items = [torch.randn(8) for _ in range(12)]
    kwargs = {"parameters": efficiency.parameter_counts(layer), "batch_size": 4, "device": "cpu"}
    measured = efficiency.measure(forward, items, **kwargs)
    assert measured["throughput_source"] == "measured batches" and measured["warm_up"] == "one example"
    # one warm-up, the batch-1 sample, the throughput batches of 4, then one forward per FLOP count
    assert calls == [1] * (1 + measured["sample"]) + [4] * measured["batches"] + [1] * efficiency.FLOP_SAMPLE
    assert measured["throughput_examples"] == 4 * measured["batches"]

    calls.clear()
    given = efficiency.measure(forward, items, **kwargs, throughput=(12, 0.5))
    assert calls == [1] * (given["sample"] + efficiency.FLOP_SAMPLE)  # batch-1 forwards only
    assert given["throughput_per_s"] == 24.0 and given["throughput_examples"] == 12 and given["throughput_batch_size"] == 4
    assert given["throughput_source"] == "unit prediction pass" and given["warm_up"] == "unit prediction pass"
    assert "batches" not in given and given["flops_per_example"] == 2 * 8 * 2

    (out, (n, seconds)) = efficiency.timed_pass(lambda: "done", 7, "cpu")
    assert out == "done" and n == 7 and seconds >= 0
    assert efficiency.add_passes((3, 1.0), None, (5, 0.5)) == (8, 1.5) and efficiency.add_passes(None) is None


PROBE_TEXTS = ["alpha bravo charlie delta", "echo foxtrot golf", "hotel alpha bravo", "charlie delta echo foxtrot golf"] * 3


def _probe_parts(tmp_path, pair: bool):
    """A frozen tiny BERT encoder (mean-pooled, as the probe uses it) and a fitted logistic head."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from polyglue.encoders import parse_encoder
    from polyglue.features import FeatureCache
    from polyglue.langkits.encoders.hf_text import HFTextEncoder
    from polyglue.langkits.encoders.tiny import build_tiny_bert
    from polyglue.langkits.protocols.probe import _Featurizer, _scaler

    folder = build_tiny_bert(tmp_path / "bert", PROBE_TEXTS, vocab_size=200, hidden_size=D, layers=LAYERS, heads=HEADS)
    encoder = HFTextEncoder(parse_encoder(f"hf:{folder}"), max_length=64, kit_name="default", device="cpu", cache=FeatureCache(tmp_path / "cache"))
    featurize = _Featurizer(encoder, "tiny")
    pairs = list(reversed(PROBE_TEXTS)) if pair else None
    x = featurize(PROBE_TEXTS, pairs)
    x, scale = _scaler(x)
    y = np.arange(len(PROBE_TEXTS)) % CLASSES
    head = LogisticRegression(max_iter=200).fit(x, y)
    return encoder, featurize, scale, head, pairs


def _bert_flops(n: int) -> int:
    """The encoder part of `hand_count`: layers and pooler (BertModel has no classifier)."""
    per_layer = 4 * n * D * D + 2 * n * n * D + 2 * n * D * INTER
    return 2 * (LAYERS * per_layer + D * D)


@pytest.mark.parametrize("pair", [False, True], ids=["single", "pair"])
def test_given_a_tiny_probe_then_its_path_flops_equal_a_hand_count_and_the_head_is_the_trainable_part(tmp_path, pair):
    from polyglue.efficiency import FLOP_SAMPLE
    from polyglue.langkits.protocols.probe import measure_path

    encoder, featurize, scale, head, pairs = _probe_parts(tmp_path, pair)
    record = measure_path(featurize, scale, head, PROBE_TEXTS, pairs, batch_size=4, device="cpu", sparse_features=False)

    def tokens(text):
        return len(encoder.tokenizer(text)["input_ids"])

    width = D * (4 if pair else 1)  # SentEval's [u, v, |u - v|, u * v] for pairs
    head_flops = 2 * width * CLASSES
    expected = [_bert_flops(tokens(t)) + (_bert_flops(tokens(pairs[i])) if pair else 0) + head_flops
                for i, t in enumerate(PROBE_TEXTS[:FLOP_SAMPLE])]
    hand = sum(expected) / len(expected)
    assert abs(record["flops_per_example"] - hand) <= 0.01 * hand, (record["flops_per_example"], hand)
    assert record["flops_outside_torch_per_example"] == head_flops
    encoder_params = sum(p.numel() for p in encoder.torch_modules()[0].parameters())
    head_params = head.coef_.size + head.intercept_.size
    assert record["parameters"] == {"total": encoder_params + head_params, "trainable": head_params}
    assert record["latency_ms_batch1"] > 0 and record["throughput_per_s"] > 0 and record["throughput_batch_size"] == 4


def test_given_a_bow_probe_then_the_path_is_measured_without_torch_and_counts_the_sparse_head(tmp_path):
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from polyglue.langkits.encoders.bow import BowEncoder
    from polyglue.langkits.protocols.probe import _Featurizer, _scaler, measure_path

    featurize = _Featurizer(BowEncoder(n_features=2**10), "bow")
    x = featurize(PROBE_TEXTS, None)
    x, scale = _scaler(x)
    head = LogisticRegression(max_iter=200).fit(x, np.arange(len(PROBE_TEXTS)) % CLASSES)
    record = measure_path(featurize, scale, head, PROBE_TEXTS, None, batch_size=4, device="cpu", sparse_features=True)
    nnz = [scale(featurize([t], None)).nnz for t in PROBE_TEXTS[:4]]
    assert record["flops_per_example"] == int(sum(2 * k * CLASSES for k in nnz) / 4)
    assert record["parameters"] == {"total": head.coef_.size + head.intercept_.size, "trainable": head.coef_.size + head.intercept_.size}
    assert "no torch" in record["flop_convention"]
