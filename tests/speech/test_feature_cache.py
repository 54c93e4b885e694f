"""The speech feature cache: no upstream forward pass for cached audio, content keys, size, `bench cache`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("POLYGLUE_CACHE", str(root))
    return root


@pytest.fixture
def counted(monkeypatch):
    """Count upstream forward passes and model loads (fbank and Hugging Face) of feature extraction.

    The efficiency figures run the upstream on purpose after scoring (they time the real path,
    waveform to prediction; tests/speech/test_cards_and_demo.py checks them), so they are
    switched off here: the counts are the feature cache's alone."""
    from polyglue.speech.runners.common import SpeechUnit
    from polyglue.speech.upstreams.fbank import FbankUpstream
    from polyglue.speech.upstreams.hf import HFUpstream

    monkeypatch.setattr(SpeechUnit, "measure_efficiency", lambda self, *args, **kwargs: None)

    calls = {"fbank": 0, "hf": 0, "hf_load": 0}
    fbank_forward, hf_forward, hf_load = FbankUpstream.forward, HFUpstream.forward, HFUpstream._load

    def count(name, fn):
        def wrapper(self, *args, **kwargs):
            if name != "hf_load" or self._model is None:  # a load is a first call that builds the model
                calls[name] += 1
            return fn(self, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(FbankUpstream, "forward", count("fbank", fbank_forward))
    monkeypatch.setattr(HFUpstream, "forward", count("hf", hf_forward))
    monkeypatch.setattr(HFUpstream, "_load", count("hf_load", hf_load))
    return calls


def _run(cli, data_dir, runs, *models, extra=()):
    args = ["run", "--suite", "indicsuperb", "--tasks", "indicsuperb-sid,indicsuperb-qbe", "--data-dir", data_dir,
            "--runs-dir", runs, "--max-steps", "1", "-q", *extra]
    for model in models:
        args += ["--model", model]
    return cli(*args)


def test_given_cached_audio_when_a_unit_is_recomputed_then_the_upstream_never_runs(cli, kathbath_dir, tiny_w2v2, tmp_path, fresh_cache, counted):
    first = _run(cli, kathbath_dir, tmp_path / "runs", "fbank", f"w2v=hf:{tiny_w2v2}")
    assert first.code == 0, first.err
    assert counted["fbank"] > 0 and counted["hf"] > 0 and counted["hf_load"] == 2  # one load per unit with new audio
    before = dict(counted)
    second = _run(cli, kathbath_dir, tmp_path / "runs", "fbank", f"w2v=hf:{tiny_w2v2}", extra=["--force"])
    assert second.code == 0, second.err
    assert counted == before  # zero forward passes, and the wav2vec2 weights were not even loaded


def test_cache_keys_are_audio_content_not_file_names(cli, kathbath_dir, tmp_path, fresh_cache, counted):
    assert _run(cli, kathbath_dir, tmp_path / "runs", "fbank").code == 0
    extracted = counted["fbank"]
    # The same audio under another root and other file names: no new features.
    moved = tmp_path / "moved"
    shutil.copytree(kathbath_dir, moved)
    for path in sorted((moved / "indicsuperb" / "qbe" / "docs").glob("*.wav")):
        path.rename(path.with_name("renamed_" + path.name))
    truth = moved / "indicsuperb" / "qbe" / "ground_truth.tsv"
    truth.write_text(truth.read_text().replace("\tdoc_", "\trenamed_doc_"))
    assert _run(cli, moved, tmp_path / "runs2", "fbank").code == 0
    assert counted["fbank"] == extracted
    # Edited audio under an old name: recomputed.
    import soundfile as sf

    target = sorted((moved / "indicsuperb" / "qbe" / "docs").glob("*.wav"))[0]
    audio, rate = sf.read(target)
    sf.write(target, audio * 0.5, rate, subtype="PCM_16")
    result = _run(cli, moved, tmp_path / "runs3", "fbank")
    assert result.code == 0
    assert counted["fbank"] == extracted + 1


def test_cache_stores_two_bytes_per_value_plus_a_small_index(kathbath_root, tiny_w2v2, fresh_cache):
    from polyglue.encoders import parse_encoder
    from polyglue.features import FeatureCache
    from polyglue.speech.corpus.kathbath import KathbathCorpus
    from polyglue.speech.featcache import UpstreamFeatures
    from polyglue.speech.upstreams import build_upstream

    utts = KathbathCorpus(kathbath_root).utterances("hi", "train")
    features = UpstreamFeatures(build_upstream(parse_encoder(f"hf:{tiny_w2v2}")), FeatureCache())
    assert features.prepare(utts) == len(utts)
    values = sum(features.frames(u) for u in utts) * features.layers * features.hidden
    data_bytes = sum(p.stat().st_size for p in features.ns.root.glob("*.f16"))
    assert data_bytes == 2 * values
    index_bytes = sum(p.stat().st_size for p in features.ns.root.glob("*.idx"))
    assert index_bytes < 120 * len(utts)
    block = features.read(utts[0])
    assert block.dtype == np.float16 and block.shape == (features.frames(utts[0]), 3, 16)
    assert features.read(utts[0], 2, 3).tolist() == block[2:5].tolist()


def test_bench_cache_ls_and_clear(cli, kathbath_dir, tmp_path, fresh_cache):
    assert _run(cli, kathbath_dir, tmp_path / "runs", "fbank").code == 0
    listed = cli("cache", "ls", "--format", "json")
    data = json.loads(listed.out)
    assert len(data["namespaces"]) == 1
    ns = data["namespaces"][0]
    assert ns["identity"]["upstream"] == "fbank" and ns["dim"] == 240 and ns["items"] > 0
    text = cli("cache", "ls")
    assert ns["name"] in text.out and "fbank" in text.out
    refused = cli("cache", "clear")
    assert refused.code == 2 and "--all" in refused.err
    unknown = cli("cache", "clear", "nope")
    assert unknown.code == 2 and "matches no namespace" in unknown.err
    cleared = cli("cache", "clear", ns["name"][:6])
    assert cleared.code == 0 and "freed" in cleared.out
    assert json.loads(cli("cache", "ls", "--format", "json").out)["namespaces"] == []


def test_bench_cache_ls_imports_no_torch(tmp_path):
    code = "import sys; from polyglue.cli import main; main(['cache', 'ls']); print(sorted(m for m in ('torch', 'transformers', 'datasets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env={"POLYGLUE_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_cache_budget_too_small_for_one_utterance_recomputes_the_same_features(kathbath_root, fresh_cache, capsys):
    from polyglue.cache_budget import notice
    from polyglue.encoders import parse_encoder
    from polyglue.features import FeatureCache
    from polyglue.speech.corpus.kathbath import KathbathCorpus
    from polyglue.speech.featcache import UpstreamFeatures
    from polyglue.speech.upstreams import build_upstream

    notice._seen.clear()
    utts = KathbathCorpus(kathbath_root).utterances("hi", "train")[:4]
    full = UpstreamFeatures(build_upstream(parse_encoder("fbank")), FeatureCache(fresh_cache / "a"))
    full.prepare(utts)
    tiny = UpstreamFeatures(build_upstream(parse_encoder("fbank")), FeatureCache(fresh_cache / "b", budget=1000, spill_bytes=0))
    tiny.prepare(utts)
    assert tiny.size_bytes() < 1000 and "smaller than one item" in capsys.readouterr().err
    for utt in utts:
        assert np.array_equal(tiny.read(utt), full.read(utt)) and tiny.frames(utt) == full.frames(utt)
        assert np.array_equal(tiny.read(utt, 3, 4), full.read(utt, 3, 4))
    assert tiny.stats["recomputed"] >= len(utts)


def test_int8_feature_storage_halves_the_bytes(kathbath_root, fresh_cache):
    from polyglue.encoders import parse_encoder
    from polyglue.features import FeatureCache
    from polyglue.speech.corpus.kathbath import KathbathCorpus
    from polyglue.speech.featcache import UpstreamFeatures
    from polyglue.speech.upstreams import build_upstream

    utts = KathbathCorpus(kathbath_root).utterances("hi", "train")
    cache = FeatureCache()
    f16 = UpstreamFeatures(build_upstream(parse_encoder("fbank")), cache)
    q8 = UpstreamFeatures(build_upstream(parse_encoder("fbank")), cache, storage="int8")
    f16.prepare(utts), q8.prepare(utts)
    assert f16.namespace != q8.namespace
    data = lambda f, ext: sum(p.stat().st_size for p in f.ns.root.glob(f"*.{ext}"))
    values = sum(f16.frames(u) for u in utts) * f16.layers * f16.hidden
    assert data(f16, "f16") == 2 * values and data(q8, "q8") == values + 4 * f16.layers * f16.hidden * len(utts)
    for utt in utts[:3]:
        a, b = f16.read(utt).astype(np.float32), q8.read(utt).astype(np.float32)
        step = np.abs(a).max(axis=0) / 127  # one quantisation step per channel (fp16 rounding included)
        assert (np.abs(a - b) <= step + 1e-3).all()


def test_a_bad_cache_budget_is_one_line_and_exit_2(cli, kathbath_dir, tmp_path, monkeypatch):
    result = _run(cli, kathbath_dir, tmp_path / "runs", "fbank", extra=["--cache-budget", "5 parsecs"])
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1 and "--cache-budget" in result.err
    monkeypatch.setenv("POLYGLUE_CACHE_BUDGET", "lots")
    result = _run(cli, kathbath_dir, tmp_path / "runs", "fbank")
    assert result.code == 2 and "POLYGLUE_CACHE_BUDGET" in result.err


def test_a_run_under_a_tiny_cache_budget_finishes(cli, kathbath_dir, tmp_path, fresh_cache):
    result = _run(cli, kathbath_dir, tmp_path / "runs", "fbank", extra=["--cache-budget", "20KB"])
    assert result.code == 0, result.err
    assert sum(p.stat().st_size for p in (fresh_cache / "features").rglob("shard-*")) <= 20_000
