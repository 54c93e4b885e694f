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

    from polyglue.langkits import efficiency

    torch.manual_seed(0)
    model = _tiny("sdpa")
    features = [{"input_ids": [2] + [7] * (N - 2) + [3], "labels": 0} for _ in range(6)]

    def outputs(m, batch):
        return list(m(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits)

    efficiency._FLOPS.clear()
    first = efficiency.measure(model, features, outputs, pad_id=0, batch_size=4, device="cpu")
    # four features of one length: counted once, then read back for the other three
    assert first["flops_cached"] == efficiency.FLOP_SAMPLE - 1 and first["flops_per_example"] == hand_count(N)
    calls = []
    real = efficiency.count_flops
    efficiency.count_flops = lambda run: calls.append(1) or real(run)
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
        efficiency.count_flops = real
    assert efficiency.MIN_SAMPLE <= first["sample"] <= efficiency.SAMPLE and 1 <= first["batches"] <= efficiency.THROUGHPUT_BATCHES
