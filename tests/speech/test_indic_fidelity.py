"""IndicSUPERB as its code runs it: the ASV model, the sox effects, checkpoint selection."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from polyglue.speech.effects import SoxEffects, from_sox, gain, silence, to_sox
from polyglue.speech.heads.indic_asv import LOST_FRAMES, TDNN, IndicAMSoftmax, IndicASV
from polyglue.speech.training import FitSettings, checkpoints, fit

# ----------------------------------------------------------------------------- ASV model


def official_parameter_count(upstream_dim: int, speakers: int) -> int:
    """indic_asv expert.py + model.py with configs/amsoftmax.yaml (input_dim 512, agg_dim 1500, SP, UtteranceExtractor)."""
    connector = upstream_dim * 512 + 512
    tdnn = sum(512 * c * out + out for c, out in zip((5, 3, 3, 1, 1), (512, 512, 512, 512, 1500)))
    utterance = (3000 * 512 + 512) + (512 * 512 + 512)
    am_softmax = 512 * speakers
    return connector + tdnn + utterance + am_softmax


def test_indic_asv_has_the_official_parameter_count_and_output_shapes():
    model, loss = IndicASV(768), IndicAMSoftmax(512, 10)
    count = sum(p.numel() for p in model.parameters()) + sum(p.numel() for p in loss.parameters())
    assert count == official_parameter_count(768, 10) == 6_115_292
    assert not any(isinstance(m, nn.BatchNorm1d) for m in model.modules())
    x = torch.randn(3, 100, 768)
    assert model.tdnn(model.connector(x)).shape == (3, 100 - LOST_FRAMES, 1500)  # XVector: T - 14 frames, agg_dim
    assert model(x, torch.tensor([100, 80, 60])).shape == (3, 512)  # UtteranceExtractor.forward
    assert model.embed(x, torch.tensor([100, 80, 60])).shape == (3, 512)  # .inference: linear1 + ReLU
    assert loss(model(x, torch.tensor([100, 80, 60])), torch.tensor([0, 3, 9])).ndim == 0


def test_tdnn_equals_the_official_unfold_then_linear():
    torch.manual_seed(0)
    layer = TDNN(4, 6, context=3, dilation=2)
    x = torch.randn(2, 11, 4)
    # the official TDNN.forward: F.unfold over (context, input_dim) windows, dilation (d, 1), then the kernel Linear
    cols = F.unfold(x.unsqueeze(1), (3, 4), stride=(1, 4), dilation=(2, 1)).transpose(1, 2)
    assert torch.allclose(layer(x), F.relu(layer.kernel(cols)), atol=1e-6)


def test_statistics_pooling_keeps_the_official_extra_padded_frame():
    torch.manual_seed(0)
    model = IndicASV(4, model_dim=8, agg_dim=5)
    x = torch.randn(2, 30, 4)
    x[1, 20:] = 0  # padding, as pad_sequence
    frames = model.tdnn(model.connector(x))
    row = frames[1, : 20 - LOST_FRAMES + 1]  # official: first masked index + 1
    expected = torch.cat([row.mean(0), row.std(0)])
    assert torch.allclose(model._pooled(x, torch.tensor([30, 20]))[1], expected, atol=1e-6)
    # trials are embedded one utterance at a time (eval batch 1): no extra frame
    alone = model.embed(x[1:, :20], torch.tensor([20]))
    assert torch.allclose(model.embed(x, torch.tensor([30, 20]))[1], alone[0], atol=1e-5)


def test_am_softmax_equals_the_official_formula():
    torch.manual_seed(0)
    loss = IndicAMSoftmax(6, 4)
    x, y = torch.randn(5, 6), torch.tensor([0, 1, 2, 3, 1])
    wf = F.normalize(x, dim=1) @ F.normalize(loss.W, dim=0)
    numerator = 30 * (wf[torch.arange(5), y] - 0.4)
    excl = torch.stack([torch.cat([wf[i, :k], wf[i, k + 1 :]]) for i, k in enumerate(y.tolist())])
    official = -(numerator - torch.log(torch.exp(numerator) + torch.exp(30 * excl).sum(1))).mean()
    assert loss(x, y).item() == pytest.approx(official.item(), rel=1e-5)


# ----------------------------------------------------------------------------- sox effects


def _signal(seed: int, near_threshold: bool = False) -> np.ndarray:
    """Tones, noise, near-threshold noise and digital silence in random order and lengths (16-bit quantised)."""
    r = np.random.default_rng(seed)
    parts = []
    for _ in range(int(r.integers(3, 8))):
        n = int(r.integers(200, 16000))
        kind = int(r.integers(0, 4))
        t = np.arange(n) / 16000
        if kind == 0:
            parts.append(np.zeros(n))
        elif kind == 1:
            parts.append(r.normal(0, 10 ** r.uniform(-3.0, -2.7) if near_threshold else 10 ** r.uniform(-4.5, -2.5), n))
        elif kind == 2:
            parts.append(0.3 * np.sin(2 * np.pi * r.uniform(100, 400) * t))
        else:
            parts.append(r.normal(0, 0.2, n))
    return np.round(np.clip(np.concatenate(parts), -1, 32767 / 32768) * 32768) / 32768


def test_silence_trims_a_hand_made_signal():
    loud = np.full(3200, 2**28, dtype=np.int64)  # 0.2 s well above 0.1 %
    quiet = np.zeros(4800, dtype=np.int64)  # 0.3 s of digital silence
    out = silence(np.concatenate([quiet, loud, quiet, loud, quiet[:800]]), 16000, 0.1, 0.1)
    # By hand: trim drops the leading 4800 zeros (the first loud sample is above: RMS 2**28/sqrt(320)).
    # In copy mode a zero stays "above" while the 320-sample window still holds a loud sample: 319
    # zeros are kept; the next 1600 (below) are the pause, dropped; restart: the window is cleared and
    # the rest of the zeros are trimmed; the second loud run is copied; of the final 800 zeros, 319 are
    # above and 481 a pending pause shorter than 0.1 s, which sox keeps at the end (drain).
    expected = np.concatenate([loud, np.zeros(319), loud, np.zeros(800)])
    assert out.tolist() == expected.astype(np.int64).tolist()
    assert silence(quiet, 16000, 0.1, 0.1).size == 0
    assert gain(np.array([2**30, -(2**30), 3]), -3.0).tolist() == [760150998, -760150998, 2]  # 2**30 * 10**(-3/20) = 760150998.1


def test_effects_settings_are_their_sox_command():
    assert SoxEffects().command() == [["gain", "-3.0"], ["silence", "1", "0.1", "0.1%", "-1", "0.1", "0.1%"]]


@pytest.mark.skipif(shutil.which("sox") is None, reason="the sox program is not installed (apt-get install sox; .ci/run installs it)")
@pytest.mark.parametrize("near_threshold", [False, True])
def test_effects_equal_the_sox_program_sample_for_sample(tmp_path, near_threshold):
    import soundfile as sf

    effects = SoxEffects()
    for seed in range(8):
        wav = _signal(seed, near_threshold)
        src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
        sf.write(str(src), wav, 16000, subtype="PCM_16")
        # -D: no dither; 32-bit integer output keeps sox's internal samples exactly
        subprocess.run(["sox", "-D", str(src), "-b", "32", "-e", "signed-integer", str(dst),
                        *[arg for effect in effects.command() for arg in effect]], check=True, capture_output=True)
        reference, _ = sf.read(str(dst), dtype="int32")
        read, _ = sf.read(str(src), dtype="float32")
        ours = silence(gain(to_sox(read), -3.0), 16000, 0.1, 0.1)
        assert ours.tolist() == reference.tolist(), f"seed {seed}"
        assert np.array_equal(effects(read), from_sox(reference))


# ----------------------------------------------------------------------------- checkpoint selection


def test_checkpoints_every_eval_step_include_the_last():
    assert checkpoints(200_000, 5, eval_every=20_000) == list(range(20_000, 200_001, 20_000))
    assert len(checkpoints(200_000, 5, eval_every=5_000)) == 40
    assert checkpoints(7, 5, eval_every=3) == [3, 6, 7]


def test_selection_scores_the_best_validation_checkpoint_of_a_planted_sequence():
    planted = iter([0.2, 0.5, 0.9, 0.4, 0.9, 0.1])  # best at the 3rd evaluation (ties keep the earlier)
    weights = []

    def validate(model):
        weights.append(model.weight.detach().clone())
        return next(planted)

    def loss_of(model, idx, rng):
        return (model(torch.ones(len(idx), 2)) - 1.0).pow(2).mean()

    settings = FitSettings(steps=12, batch_size=2, learning_rates=(0.1,), eval_every=2, grad_clip=None)
    result = fit(lambda: nn.Linear(2, 1), loss_of, 4, validate, settings)
    assert result.best_step == 6 and result.validation == 0.9
    assert [h["step"] for h in result.history] == [2, 4, 6, 8, 10, 12]
    assert torch.equal(result.model.weight, weights[2]) and not torch.equal(weights[2], weights[-1])


# ----------------------------------------------------------------------------- QbE MTWV per language


def test_mtwv_is_scored_per_language_and_averaged_as_score_lang_agg():
    from pathlib import Path

    from polyglue.speech.corpus import Utterance
    from polyglue.speech.runners.qbe import language_aggregated

    queries = [Utterance("qa1.wav", Path("qa1.wav"), language="hi"), Utterance("qb1.wav", Path("qb1.wav"), language="ta")]
    # 4 documents; hi's query has one target (d0), ta's two (d0, d1). beta = 1/100 * (1/0.0008 - 1) = 12.49.
    gold = np.array([[1, 0, 0, 0], [1, 1, 0, 0]])
    scores = np.array([[2.0, 1.0, 0.0, -1.0], [3.0, 1.0, 2.0, 0.0]])
    row, pooled = language_aggregated(["mtwv"], gold, scores, queries)
    # hi: the threshold 2.0 detects the target only -> TWV 1.
    # ta: the threshold 3.0 detects one target of two, no false alarm -> 1 - 0.5 = 0.5; every lower
    #     threshold adds a false alarm costing 12.49 / 2 -> negative.
    assert row["mtwv@hi"] == pytest.approx(1.0) and row["mtwv@ta"] == pytest.approx(0.5)
    assert row["mtwv"] == pytest.approx(0.75)
    # pooled, one threshold: 3.0 -> 1 - (1 + 0.5) / 2 = 0.25; 2.0 adds ta's false alarm (negative)
    assert pooled == pytest.approx(0.25)


# ----------------------------------------------------------------------------- cache key, crops, bad audio


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("POLYGLUE_CACHE", str(tmp_path / "cache"))
    from polyglue.features import FeatureCache

    return FeatureCache()


def test_effects_and_dtype_are_in_the_feature_cache_key(kathbath_root, tiny_w2v2, own_cache):
    from polyglue.encoders import parse_encoder
    from polyglue.speech.corpus.kathbath import KathbathCorpus
    from polyglue.speech.featcache import UpstreamFeatures
    from polyglue.speech.upstreams import build_upstream

    utts = KathbathCorpus(kathbath_root).utterances("hi", "train")[:2]
    plain = UpstreamFeatures(build_upstream(parse_encoder(f"hf:{tiny_w2v2}")), own_cache)
    trimmed = UpstreamFeatures(build_upstream(parse_encoder(f"hf:{tiny_w2v2}")), own_cache, effects=SoxEffects())
    bf16_upstream = build_upstream(parse_encoder(f"hf:{tiny_w2v2}"))
    bf16_upstream.dtype = "bfloat16"
    bf16 = UpstreamFeatures(bf16_upstream, own_cache)
    assert len({plain.namespace, trimmed.namespace, bf16.namespace}) == 3
    assert plain.upstream.identity()["dtype"] == "float32"
    trimmed.prepare(utts)
    from polyglue.speech.audio import read_audio

    assert trimmed.samples_after_effects(utts[0]) == len(SoxEffects()(read_audio(utts[0].path)))


def test_audio_that_trims_to_nothing_has_no_features_and_is_reported(tmp_path, tiny_w2v2, own_cache):
    from polyglue.encoders import parse_encoder
    from polyglue.speech.audio import write_wav
    from polyglue.speech.corpus import Utterance
    from polyglue.speech.featcache import UpstreamFeatures
    from polyglue.speech.upstreams import build_upstream

    silent = tmp_path / "silent.wav"
    write_wav(silent, np.zeros(16000))
    utt = Utterance("silent.wav", silent)
    features = UpstreamFeatures(build_upstream(parse_encoder(f"hf:{tiny_w2v2}")), own_cache, effects=SoxEffects())
    features.prepare([utt])
    assert features.samples_after_effects(utt) == 0 and features.key(utt) not in features.ns


def test_reencoded_crops_equal_cached_features_when_the_crop_holds_the_whole_utterance(kathbath_root, tiny_w2v2, own_cache):
    from polyglue.encoders import parse_encoder
    from polyglue.speech.corpus.kathbath import KathbathCorpus
    from polyglue.speech.featcache import UpstreamFeatures
    from polyglue.speech.training import Batcher, ReencodeBatcher
    from polyglue.speech.upstreams import build_upstream

    utts = KathbathCorpus(kathbath_root).utterances("hi", "valid")[:2]  # ~0.5 s each
    features = UpstreamFeatures(build_upstream(parse_encoder(f"hf:{tiny_w2v2}")), own_cache)
    features.prepare(utts)
    rng = np.random.default_rng(0)
    cached_x, cached_len = Batcher(features, "cpu", crop_frames=400)(utts, rng)
    fresh_x, fresh_len = ReencodeBatcher(features, "cpu", crop_seconds=8.0)(utts, rng)
    assert cached_len.tolist() == fresh_len.tolist()
    assert torch.equal(cached_x, fresh_x)
    short_x, short_len = ReencodeBatcher(features, "cpu", crop_seconds=0.2)(utts, rng)  # 0.2 s crops: 9 frames
    assert short_len.tolist() == [9, 9] and short_x.shape[2] == 9


# ----------------------------------------------------------------------------- SID-multi ids, LID folder


def test_sid_multi_raw_ids_merge_equal_ids_across_languages():
    from pathlib import Path

    from polyglue.speech.corpus import Utterance
    from polyglue.speech.runners.utterance import target

    a = Utterance("hindi/train/a.wav", Path("a.wav"), language="hi", speaker="17")
    b = Utterance("tamil/train/b.wav", Path("b.wav"), language="ta", speaker="17")
    assert {target(u, "speaker-id", True) for u in (a, b)} == {"hi/17", "ta/17"}
    assert {target(u, "speaker-id", True, raw_ids=True) for u in (a, b)} == {"17"}  # indic_sid_multi: split('-')[1]


def test_lid_can_train_on_a_chunk_data_folder(tmp_path):
    from polyglue.speech.audio import write_wav
    from polyglue.speech.corpus.kathbath import KathbathCorpus

    (tmp_path / "hindi" / "train").mkdir(parents=True)
    for lang in ("hindi", "tamil"):
        write_wav(tmp_path / "chunk_data" / lang / f"{lang}-1.wav", np.zeros(1600))
    corpus = KathbathCorpus(tmp_path)
    found = corpus.folder_utterances("hi", "chunk_data")
    assert [u.id for u in found] == ["chunk_data/hindi/hindi-1.wav"] and found[0].language == "hi"
