"""Featurizer, heads and the training loop on small synthetic tensors (no corpus needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from polyglue.speech.featurizer import WeightedLayerSum
from polyglue.speech.heads import mean_pool
from polyglue.speech.heads.ctc import BiLSTMCTC, greedy_decode
from polyglue.speech.heads.utterance import MeanPoolClassifier
from polyglue.speech.heads.xvector import LOST_FRAMES, AMSoftmaxLoss, XVector
from polyglue.speech.training import FitSettings, checkpoints, fit


def _layered_problem(n=64, layers=4, frames=10, hidden=6, informative=2, seed=0):
    """Labels visible only in one layer; the other layers are noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, layers, frames, hidden, generator=g)
    x[:, informative, :, 0] += 3.0 * (2 * y[:, None].float() - 1)
    return x, y


class _Probe(torch.nn.Module):
    def __init__(self, layers, hidden):
        super().__init__()
        self.featurizer = WeightedLayerSum(layers)
        self.head = MeanPoolClassifier(hidden, 2)

    def forward(self, x):
        return self.head(self.featurizer(x), torch.full((x.shape[0],), x.shape[2]))


def test_weighted_sum_starts_uniform_and_learns_the_informative_layer():
    x, y = _layered_problem()
    model = _Probe(4, 6)
    assert model.featurizer.weights.tolist() == [0.0, 0.0, 0.0, 0.0]
    assert model.featurizer.layer_weights() == [0.25] * 4
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    weights = model.featurizer.layer_weights()
    assert int(np.argmax(weights)) == 2 and weights[2] > 0.4


def test_single_layer_featurizer_is_the_identity():
    x = torch.randn(2, 1, 5, 3).half()
    assert torch.equal(WeightedLayerSum(1)(x), x[:, 0].float())


def test_weighted_sum_equals_the_explicit_softmax_combination(monkeypatch):
    import polyglue.speech.featurizer

    torch.manual_seed(0)
    f = WeightedLayerSum(3)
    with torch.no_grad():
        f.weights.copy_(torch.tensor([0.5, -1.0, 2.0]))
    x = torch.randn(4, 3, 6, 5).half()
    w = torch.softmax(f.weights.detach(), 0)
    expected = sum(w[i] * x[:, i].float() for i in range(3))
    assert torch.allclose(f(x), expected, atol=1e-5)
    monkeypatch.setattr(polyglue.speech.featurizer, "MAX_FLOAT_VALUES", 3 * 6 * 5)  # one utterance at a time
    assert torch.allclose(f(x), expected, atol=1e-5)


def test_mean_pool_ignores_padding():
    x = torch.tensor([[[1.0], [3.0], [100.0]], [[2.0], [4.0], [6.0]]])
    assert mean_pool(x, torch.tensor([2, 3])).flatten().tolist() == [2.0, 4.0]


def test_xvector_pools_over_true_frames_only():
    torch.manual_seed(0)
    model = XVector(4, input_proj=8, channels=8, agg_dim=10, embed_dim=6).eval()
    x = torch.randn(1, 30, 4)
    padded = torch.cat([x, 50 * torch.randn(1, 12, 4)], dim=1)
    assert torch.allclose(model(x, torch.tensor([30])), model(padded, torch.tensor([30])), atol=1e-5)
    short = model(torch.randn(2, LOST_FRAMES - 3, 4), torch.tensor([LOST_FRAMES - 3, 5]))  # shorter than the TDNN context
    assert short.shape == (2, 6) and torch.isfinite(short).all()


def test_am_softmax_loss_penalises_the_margin():
    loss = AMSoftmaxLoss(2, 2, scale=30.0, margin=0.4)
    with torch.no_grad():
        loss.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    emb = torch.tensor([[1.0, 0.0]])
    # cos = (1, 0); logits 30 * (1 - 0.4) = 18 for the target, 0 for the other
    assert loss(emb, torch.tensor([0])).item() == pytest.approx(float(F.cross_entropy(torch.tensor([[18.0, 0.0]]), torch.tensor([0]))))


def test_ctc_head_respects_lengths_and_greedy_decoding_merges_repeats():
    torch.manual_seed(0)
    head = BiLSTMCTC(3, 4, project_dim=8, hidden_dim=5).eval()
    x = torch.randn(1, 9, 3)
    padded = torch.cat([x, torch.randn(1, 4, 3)], dim=1)
    assert torch.allclose(head(x, torch.tensor([9]))[0], head(padded, torch.tensor([9]))[0, :9], atol=1e-5)
    log_probs = torch.log(torch.tensor([[[0.1, 0.9, 0, 0], [0.1, 0.9, 0, 0], [0.9, 0.1, 0, 0], [0.1, 0.9, 0, 0], [0, 0, 0.9, 0.1], [0, 0, 0, 1.0]]]) + 1e-9)
    assert greedy_decode(log_probs, torch.tensor([6])) == [[1, 1, 2, 3]]
    assert greedy_decode(log_probs, torch.tensor([2])) == [[1]]


def test_asr_head_width_follows_the_head_dim_setting_and_defaults_to_the_recipes_1024():
    from polyglue.speech.runners.asr import Recognizer

    small = Recognizer(3, 8, 5, head_dim=16).head
    assert (small.project.out_features, small.lstm.hidden_size, small.output.in_features) == (16, 16, 32)
    assert Recognizer(3, 8, 5).head.lstm.hidden_size == 1024


def test_checkpoints_are_evenly_spaced_and_end_at_the_last_step():
    assert checkpoints(10, 5) == [2, 4, 6, 8, 10]
    assert checkpoints(2, 5) == [1, 2]
    assert checkpoints(7, 3) == [3, 5, 7]


def test_learning_rate_grid_keeps_the_best_validation_checkpoint_and_records_it():
    x, y = _layered_problem(n=80)
    train, valid = slice(0, 60), slice(60, 80)

    def build():
        return _Probe(4, 6)

    def loss_of(model, idx, rng):
        idx = torch.as_tensor(idx)
        return F.cross_entropy(model(x[train][idx]), y[train][idx])

    def validate(model):
        return float((model(x[valid]).argmax(-1) == y[valid]).float().mean())

    settings = FitSettings(steps=30, batch_size=16, learning_rates=(1e-6, 5e-2), evaluations=3, seed=0)
    result = fit(build, loss_of, 60, validate, settings)
    assert result.learning_rate == 5e-2
    assert set(result.scores_by_lr) == {"1e-06", "0.05"}
    assert result.scores_by_lr["0.05"] == result.validation == 1.0
    assert result.scores_by_lr["1e-06"] < 0.9
    assert [c["step"] for c in result.history] == [10, 20, 30, 10, 20, 30]
    assert result.best_step in (10, 20, 30)
    assert validate(result.model) == result.validation  # the kept weights are the selected checkpoint


def test_training_is_reproducible_for_a_seed():
    x, y = _layered_problem()

    def run(seed):
        settings = FitSettings(steps=5, batch_size=8, learning_rates=(1e-2,), evaluations=1, seed=seed)
        result = fit(lambda: _Probe(4, 6), lambda m, idx, rng: F.cross_entropy(m(x[torch.as_tensor(idx)]), y[torch.as_tensor(idx)]),
                     len(y), lambda m: 0.0, settings)
        return result.model.featurizer.weights.detach().clone()

    assert torch.equal(run(0), run(0))
    assert not torch.equal(run(0), run(1))


def test_the_data_seed_sets_the_batch_order_and_the_seed_the_initial_weights():
    """Dodge et al. (2020)'s two sources: `--data-seeds` separates them; without it both follow `seed`."""
    x, y = _layered_problem()

    def seeds(seed, data_seed):
        settings = FitSettings(steps=3, batch_size=8, learning_rates=(1e-2,), evaluations=1, seed=seed, data_seed=data_seed)
        result = fit(lambda: _Probe(4, 6), lambda m, idx, rng: F.cross_entropy(m(x[torch.as_tensor(idx)]), y[torch.as_tensor(idx)]),
                     len(y), lambda m: 0.0, settings)
        return result.selection()["seeds"]

    a, b, c = seeds(0, 1), seeds(0, 2), seeds(3, 1)
    assert (a["init"], a["data"]) == (0, 1) and len(a["first_batches"]) == 2 and len(a["first_batches"][0]) == 8
    assert a["trainable_init_sha256"] == b["trainable_init_sha256"] and a["first_batches"] != b["first_batches"]
    assert a["trainable_init_sha256"] != c["trainable_init_sha256"] and a["first_batches"] == c["first_batches"]
    plain = seeds(1, None)  # no separate data seed: the batch order is the seed's own, as before
    assert plain["data"] == 1 and plain["first_batches"] == a["first_batches"]
