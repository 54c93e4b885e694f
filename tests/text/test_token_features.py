"""Cached encoder states for frozen token/QA/choice probes: same outputs, encoder runs once, misses recompute."""

from __future__ import annotations

import numpy as np
import pytest

from polyglue.features import FeatureCache


def _model(tiny_bert, cls_name: str, **kwargs):
    import torch
    import transformers

    torch.manual_seed(0)
    model = getattr(transformers, cls_name).from_pretrained(tiny_bert, **kwargs).eval()
    model.base_model.requires_grad_(False)
    return model


def _batch(model, choices: int | None = None):
    import torch

    rng = np.random.default_rng(0)
    shape = (3, 9) if choices is None else (3, choices, 9)
    ids = torch.tensor(rng.integers(5, model.config.vocab_size, shape))
    mask = torch.ones(shape, dtype=torch.long)
    mask[..., 0:1, 6:] = 0  # the first row (or choice) is right-padded
    ids[mask == 0] = 0
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros(shape, dtype=torch.long)}


@pytest.mark.parametrize("cls_name,kwargs,choices", [
    ("AutoModelForTokenClassification", {"num_labels": 5}, None),
    ("AutoModelForQuestionAnswering", {}, None),
    ("AutoModelForMultipleChoice", {}, 3),
])
def test_cached_states_give_the_head_the_same_outputs_and_the_encoder_runs_once(tiny_bert, tmp_path, cls_name, kwargs, choices):
    import torch

    from polyglue.langkits.token_features import attach

    model = _model(tiny_bert, cls_name, **kwargs)
    batch = _batch(model, choices)
    with torch.no_grad():
        plain = model(**batch)
    states = attach(model, FeatureCache(tmp_path), {"weights": "tiny"}, "cpu")
    with torch.no_grad():
        first, second = model(**batch), model(**batch)
    rows = 3 * (choices or 1)
    assert states.stats["rows_computed"] == rows and states.stats["rows_read"] == rows
    assert states.stats["encoder_calls"] == 1
    for name in ("logits", "start_logits", "end_logits"):
        if name not in plain:
            continue
        ref, a, b = (out[name].numpy() for out in (plain, first, second))
        assert np.array_equal(a, b)  # every epoch sees the same states
        if choices is None:  # per-token outputs: padded positions never reach the loss (tokens) or carry only the bias (QA)
            real = batch["attention_mask"].numpy().astype(bool)
            ref, a = ref[real], a[real]
        np.testing.assert_allclose(a, ref, atol=2e-2, rtol=1e-2)  # fp16 stored states


def test_a_new_model_reads_the_stored_states_and_a_missing_row_is_recomputed(tiny_bert, tmp_path):
    import torch

    from polyglue.langkits.token_features import attach

    batch = _batch(_model(tiny_bert, "AutoModelForTokenClassification", num_labels=5))
    first = attach(_model(tiny_bert, "AutoModelForTokenClassification", num_labels=5), FeatureCache(tmp_path), {"weights": "tiny"}, "cpu")
    with torch.no_grad():
        expected = first.model(**batch).logits
    second = attach(_model(tiny_bert, "AutoModelForTokenClassification", num_labels=5), FeatureCache(tmp_path), {"weights": "tiny"}, "cpu")
    with torch.no_grad():
        assert torch.equal(second.model(**batch).logits, expected)
    assert second.stats == {**second.stats, "rows_read": 3, "rows_computed": 0, "encoder_calls": 0}
    third = attach(_model(tiny_bert, "AutoModelForTokenClassification", num_labels=5), FeatureCache(tmp_path), {"weights": "tiny"}, "cpu")
    for shard in third.ns.root.glob("shard-*"):  # evicted (by a budget, another process) after the index was read
        shard.unlink()
    with torch.no_grad():
        again = third.model(**batch).logits
    assert third.stats["rows_computed"] == 3 and torch.equal(again, expected)


def test_other_weights_never_share_states(tiny_bert, tmp_path):
    from polyglue.langkits.token_features import attach

    cache = FeatureCache(tmp_path)
    a = attach(_model(tiny_bert, "AutoModelForTokenClassification", num_labels=5), cache, {"weights": "a"}, "cpu")
    b = attach(_model(tiny_bert, "AutoModelForTokenClassification", num_labels=5), cache, {"weights": "b"}, "cpu")
    c = attach(_model(tiny_bert, "AutoModelForTokenClassification", num_labels=5), cache, {"weights": "a"}, "cuda")
    assert len({a.ns.root, b.ns.root, c.ns.root}) == 3


def test_pooled_probe_features_over_a_tiny_budget_are_recomputed_not_lost(tiny_bert, tmp_path):
    from polyglue.encoders import parse_encoder
    from polyglue.langkits.encoders.hf_text import HFTextEncoder

    texts = ["the film was excellent", "el llibre era avorrit", "the film was excellent", "η ταινία ήταν υπέροχη"]
    spec = parse_encoder(f"hf:{tiny_bert}")
    full = HFTextEncoder(spec, max_length=32, kit_name="default", device="cpu", cache=FeatureCache(tmp_path / "a")).encode(texts)
    tiny = HFTextEncoder(spec, max_length=32, kit_name="default", device="cpu", cache=FeatureCache(tmp_path / "b", budget=10, spill_bytes=0))
    got = tiny.encode(texts)
    assert not list((tmp_path / "b").rglob("shard-*"))
    np.testing.assert_array_equal(got, full)
