"""Upstreams: FBANK as s3prl computes it, Hugging Face preprocessing by config, the s3prl adapter."""

from __future__ import annotations

import numpy as np
import pytest

from polyglue.encoders import parse_encoder
from polyglue.speech.audio import read_audio
from polyglue.speech.upstreams import build_upstream
from polyglue.speech.upstreams.fbank import FbankUpstream
from tests.fixtures.speech_data import utterance_paths


@pytest.fixture(scope="module")
def wavs(kathbath_root):
    return [read_audio(p) for p in utterance_paths(kathbath_root, "hindi", "train")[:3]]


def test_fbank_has_240_cmvn_dims_at_10_ms(wavs):
    feats = FbankUpstream().forward(wavs)
    for wav, f in zip(wavs, feats):
        assert f.shape == (1 + (len(wav) - 400) // 160, 1, 240)
        assert np.abs(f[:, 0].mean(0)).max() < 1e-4  # per-utterance CMVN: zero mean ...
        assert f[:, 0].std(0, ddof=1) == pytest.approx(np.ones(240), abs=1e-3)  # ... and unit std


def test_fbank_matches_s3prls_fbank_upstream(wavs):
    from polyglue.speech.upstreams.s3prl_upstream import S3prlUpstream

    ours = FbankUpstream().forward(wavs)
    theirs = S3prlUpstream(parse_encoder("s3prl:fbank")).forward(wavs)
    for wav, a, b in zip(wavs, ours, theirs):
        # s3prl pads every upstream to (samples - 1) // stride + 1 frames; the Kaldi frames come first
        assert b.shape[0] == (len(wav) - 1) // 160 + 1 > a.shape[0]
        assert np.abs(a - b[: a.shape[0]]).max() < 1e-3


def test_hf_upstream_returns_every_hidden_state_at_20_ms(tiny_w2v2, wavs):
    up = build_upstream(parse_encoder(f"hf:{tiny_w2v2}"))
    assert up.shape() == (3, 16)
    assert up.batched is False  # group-norm model: one utterance per pass
    feats = up.forward(wavs)
    for wav, f in zip(wavs, feats):
        assert f.shape[1:] == (3, 16)
        assert abs(f.shape[0] - len(wav) / 320) <= 1.0


def test_layer_norm_models_batch_with_an_attention_mask_and_match_single_passes(tiny_w2v2_layer, wavs):
    up = build_upstream(parse_encoder(f"hf:{tiny_w2v2_layer}"))
    assert up.batched is True and up.identity()["attention_mask"] is True
    batched = up.forward(wavs)
    single = [up.forward([w])[0] for w in wavs]
    for a, b in zip(batched, single):
        assert a.shape == b.shape
        assert np.abs(a - b).max() < 1e-4


def test_do_normalize_makes_features_independent_of_loudness(tiny_w2v2, wavs):
    up = build_upstream(parse_encoder(f"hf:{tiny_w2v2}"))
    assert up.identity()["do_normalize"] is True
    loud, quiet = up.forward([wavs[0]])[0], up.forward([wavs[0] * 0.1])[0]
    assert np.abs(loud - quiet).max() < 1e-3


def test_s3prl_local_hf_folder_gives_the_same_layers_as_the_hf_upstream(tiny_w2v2, wavs):
    ours = build_upstream(parse_encoder(f"hf:{tiny_w2v2}")).forward(wavs[:1])[0]
    s3 = build_upstream(parse_encoder(f"s3prl:hf_wav2vec2_custom@{tiny_w2v2}"))
    theirs = s3.forward(wavs[:1])[0]
    assert s3.shape() == (3, 16) and s3.frame_shift_ms == 20.0
    assert theirs.shape[0] == (len(wavs[0]) - 1) // 320 + 1 >= ours.shape[0]  # s3prl's padded length
    assert np.abs(theirs[: ours.shape[0]] - ours).max() < 1e-3


def test_unknown_s3prl_upstream_is_a_user_error():
    from polyglue.errors import UserError

    with pytest.raises(UserError, match="unknown s3prl upstream"):
        build_upstream(parse_encoder("s3prl:no_such_upstream")).shape()


def test_s3prl_checkpoint_identity_is_its_content_not_its_path(tiny_w2v2, tmp_path):
    import shutil

    copy = tmp_path / "elsewhere"
    shutil.copytree(tiny_w2v2, copy)
    a = parse_encoder(f"s3prl:hf_wav2vec2_custom@{tiny_w2v2}").identity()
    b = parse_encoder(f"s3prl:hf_wav2vec2_custom@{copy}").identity()
    assert a == b and str(tiny_w2v2) not in a and a.startswith("s3prl:hf_wav2vec2_custom@")
    assert parse_encoder("s3prl:fbank").identity() == "s3prl:fbank"
