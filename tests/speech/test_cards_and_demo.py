"""Speech cards validate strictly; layout sources are checked; the synthetic speech demo has signal."""

from __future__ import annotations

import pytest

from polyglue.cards.yamlio import dump_yaml
from tests.conftest import REPO


def test_the_indicsuperb_cards_validate_without_problems(cli):
    result = cli("validate", REPO / "cards" / "indicsuperb")
    assert result.code == 0
    assert "8 file(s) checked: 0 error(s), 0 warning(s)" in result.err


def _card(**changes) -> dict:
    card = {
        "name": "x-sid", "version": "1.0.0", "title": "t", "languages": ["hin"], "modality": "speech", "task": "speaker-id",
        "source": {"layout": {"name": "kathbath"}}, "splits": {"train": "train", "test": "test"}, "metrics": ["accuracy"],
        "main_metric": "accuracy", "license": "cc0-1.0", "citation": "c",
    }
    card.update(changes)
    return card


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"source": {"layout": {"name": "kathbath", "files": {"train": "a.csv"}}}}, "kathbath layout finds its files itself"),
        ({"source": {"layout": {"name": "audio-manifest"}}}, "needs `files`"),
        ({"source": {"layout": {"name": "audio-manifest", "files": {"train": "../up.csv", "test": "t.csv"}}}}, "must be relative"),
        ({"source": {"layout": {"name": "audio-manifest", "files": {"train": "a.csv", "test": "t.csv"}}}, "fields": {"p": "audio"}},
         "needs column(s) with role(s) speaker"),
        ({"source": {"layout": {"name": "audio-manifest", "files": {"train": "a.csv"}}}, "fields": {"p": "audio", "s": "speaker"}},
         "source split 'test' is not in source.layout.files"),
        ({"task": "language-id"}, "needs a `labels` list"),
        ({"protocol": {"language_mode": "each"}}, "per-language"),
        ({"source": {"layout": {"name": "librispeech"}}}, "kathbath"),
    ],
)
def test_bad_speech_cards_are_refused_with_the_line_of_the_problem(cli, tmp_path, changes, message):
    path = tmp_path / "card.yaml"
    path.write_text(dump_yaml(_card(**changes)), encoding="utf-8")
    result = cli("validate", path)
    assert result.code == 2
    assert message in result.out
    assert result.out.startswith(f"{path}:") or f"{path.name}:" in result.out


def test_keyword_cards_on_a_layout_may_leave_the_keywords_to_the_folders(cli, tmp_path):
    path = tmp_path / "ks.yaml"
    path.write_text(dump_yaml(_card(name="x-ks", task="keyword-spotting")), encoding="utf-8")
    assert cli("validate", path).code == 0


@pytest.fixture(scope="module")
def speech_demo(tmp_path_factory):
    from polyglue.demo.speech import write_speech_demo

    root = tmp_path_factory.mktemp("speech-demo")
    cards, data = write_speech_demo(root)
    return root, cards, data


def test_speech_demo_writes_valid_cards_and_a_three_language_kathbath_corpus(cli, speech_demo):
    root, cards, data = speech_demo
    assert cli("validate", cards / "demo-speech").code == 0
    corpus = data / "demo-speech"
    assert sorted(p.name for p in corpus.iterdir()) == ["hindi", "ks", "meta_data", "qbe", "tamil", "telugu"]
    assert len(list((corpus / "hindi" / "train").rglob("*.wav"))) == 36  # 6 speakers x 6 utterances


def test_speech_demo_keywords_are_learnable_from_its_tiny_random_wav2vec2(cli, speech_demo, tmp_path):
    from polyglue.demo.speech import speech_models

    root, cards, data = speech_demo
    w2v = speech_models(root)[1].replace("tiny-wav2vec2=", "w2v=")
    result = cli("run", "--suite", "demo-speech", "--cards", cards, "--tasks", "demo-speech-ks", "--model", w2v,
                 "--data-dir", data, "--runs-dir", tmp_path / "runs", "-q")
    assert result.code == 0, result.err
    from tests.speech.conftest import read_units

    unit = read_units(tmp_path / "runs")[("demo-speech-ks", "w2v")]
    assert unit["metrics"]["test"]["accuracy"] >= 0.5  # 3 keywords, 24 test utterances: chance is 1/3
    assert unit["extras"]["selection"]["all"]["validation_by_lr"].keys() == {"0.01", "0.001"}


def test_given_sid_and_asv_units_on_the_demo_upstream_then_they_store_efficiency_figures_of_the_whole_path(cli, speech_demo, tmp_path):
    """Waveform -> upstream -> head (ASV: its embedding), measured after scoring: the upstream's parameters
    are frozen, the head's trainable."""
    import transformers

    from polyglue.demo.speech import speech_models
    from tests.speech.conftest import read_units

    root, cards, data = speech_demo
    w2v = speech_models(root)[1].replace("tiny-wav2vec2=", "w2v=")
    result = cli("run", "--suite", "demo-speech", "--cards", cards, "--tasks", "demo-speech-sid,demo-speech-asv", "--model", w2v,
                 "--data-dir", data, "--runs-dir", tmp_path / "runs", "--max-steps", "2", "--limit", "3", "-q")
    assert result.code == 0, result.err
    upstream = sum(p.numel() for p in transformers.AutoModel.from_pretrained(root / "models" / "tiny-wav2vec2").parameters())
    for card in ("demo-speech-sid", "demo-speech-asv"):
        unit = read_units(tmp_path / "runs")[(card, "w2v")]
        record = unit["extras"]["efficiency"]
        params = record["parameters"]
        assert params["total"] > upstream and params["trainable"] == params["total"] - upstream
        assert record["flops_per_example"] > 0 and record["latency_ms_batch1"] > 0 and record["throughput_per_s"] > 0
        assert record["peak_memory_mb"] > 0 and record["audio_seconds_per_example"] > 0 and record["throughput_batch_size"] >= 1
        assert unit["extras"]["parameters"] == params
        assert 0 < unit["extras"]["timings"]["efficiency_s"] < unit["extras"]["timings"]["total_s"]
