"""`bench run` on the IndicSUPERB ASR card: the paper's protocol, LM decoding, and the bad inputs.

The corpus is the generated two-language test corpus (made-up words); runs are capped
(`--max-steps 1 --limit 2`), so they check wiring and messages, not accuracy.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.speech.conftest import read_units
from tests.speech.test_lm_decoding import write_arpa

pytest.importorskip("flashlight.lib.text.decoder", reason="the `lm` extra (flashlight-text) is part of dev")


@dataclass
class Ran:
    code: int
    err: str
    units: dict


def bench(args: list[str], runs: Path) -> Ran:
    from polyglue.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["run", "--suite", "indicsuperb", "--runs-dir", str(runs), "-q", *args])
    units = read_units(runs) if (runs / "polyglue.sqlite").exists() else {}
    return Ran(code, err.getvalue(), units)


def corpus_lm(root: Path, path: Path) -> Path:
    """An ARPA 2-gram over the Hindi training transcripts' words (normalised as the runner does)."""
    from polyglue.speech.text import normalize_transcript

    lines = (root / "hindi" / "train" / "transcription.txt").read_text(encoding="utf-8").splitlines()
    texts = [normalize_transcript(line.split("\t", 1)[1], "hi") for line in lines if "\t" in line]
    words = sorted({w for t in texts for w in t.split()})
    bigrams = sorted({(a, b) for t in texts for a, b in zip(["<s>", *t.split()], [*t.split(), "</s>"])})
    return write_arpa(path, {w: -1.0 for w in words}, bigrams)


FT = ["--tasks", "indicsuperb-asr", "--protocol", "finetune", "--languages", "hi", "--max-steps", "1", "--limit", "2"]


def test_finetune_with_an_lm_reports_greedy_and_lm_metrics_on_both_test_sets(tmp_path, kathbath_dir, tiny_w2v2):
    lm = corpus_lm(kathbath_dir / "indicsuperb", tmp_path / "hi.arpa")
    ran = bench(["--model", f"w2v=hf:{tiny_w2v2}", "--data-dir", str(kathbath_dir), *FT, "-o", f"protocol.lm_path={lm}"], tmp_path / "runs")
    assert ran.code == 0, ran.err
    unit = ran.units[("indicsuperb-asr", "w2v")]
    assert unit["protocol"] == "finetune" and unit["extras"]["asr_protocol"].startswith("finetune: Wav2Vec2ForCTC")
    assert {"test", "test_known"} <= set(unit["metrics"])
    for role in ("test", "test_known"):
        assert {"wer", "cer", "wer_lm", "cer_lm", "wer_lm@hi"} <= set(unit["metrics"][role])
    decoding = unit["extras"]["lm_decoding"]
    assert decoding["used"] and decoding["lm_sha256"] and decoding["beam_width"] == 1024 and decoding["lexicon_words"]["hi"] > 0
    assert "beam search with an LM skipped" not in ran.err
    seeds = next(iter(unit["extras"]["selection"].values()))["seeds"]  # the CTC layer's init seed and the batch order's
    assert (seeds["init"], seeds["data"]) == (0, 0) and len(seeds["first_batches"]) == 1 and len(seeds["trainable_init_sha256"]) == 64
    # the scoring pass also ran the beam search, so the greedy path's throughput is measured in batches
    record = unit["extras"]["efficiency"]
    assert record["throughput_source"] == "measured batches" and record["flops_per_example"] > 0 and record["audio_seconds_per_example"] > 0
    assert unit["extras"]["parameters"]["trainable"] < unit["extras"]["parameters"]["total"]  # the feature encoder is frozen

    # the unit key holds the LM's content hash, not its path: the same file elsewhere is the same unit
    moved = shutil.copy(lm, tmp_path / "copy.arpa")
    again = bench(["--model", f"w2v=hf:{tiny_w2v2}", "--data-dir", str(kathbath_dir), *FT, "-o", f"protocol.lm_path={moved}"], tmp_path / "runs")
    assert again.code == 0 and "reusing 1 finished unit" in again.err, again.err


def test_the_unit_key_follows_the_lm_files_content_not_its_path(tmp_path):
    from polyglue.cards.registry import Registry
    from polyglue.encoders import parse_encoder
    from polyglue.runs.protocol import config_hash, resolve

    card = Registry.discover().card("indicsuperb-asr").card
    encoder = parse_encoder("fbank")
    first = write_arpa(tmp_path / "a.arpa")
    same = shutil.copy(first, tmp_path / "b.arpa")
    other = write_arpa(tmp_path / "c.arpa", {"kavo": -0.5, "simu": -0.7})

    def key(path):
        return config_hash(resolve(card, encoder, None, {"lm_path": str(path)}))

    assert key(first) == key(same) != key(other)
    assert key(first) != config_hash(resolve(card, encoder, None, {}))


def test_without_an_lm_the_run_says_once_that_beam_search_was_skipped(suite_run):
    """The session's suite run decodes ASR greedily (no `protocol.lm_path`)."""
    assert sum("beam search with an LM skipped" in line for line in suite_run.err.splitlines()) == 1
    for encoder in ("fbank", "w2v"):
        extras = suite_run.units[("indicsuperb-asr", encoder)]["extras"]
        assert extras["lm_decoding"]["used"] is False and "skipped" in extras["lm_decoding"]["note"]
        assert extras["comparability"]["comparable"] is False
        assert any("SUPERB-style" in r and "'finetune'" in r for r in extras["comparability"]["reasons"])


@pytest.mark.parametrize("content", [None, b"not a language model\n"])
def test_an_unreadable_lm_stops_the_run_at_planning_with_one_line(tmp_path, kathbath_dir, content):
    lm = tmp_path / "broken.arpa"
    if content is not None:
        lm.write_bytes(content)
    runs = tmp_path / "runs"
    ran = bench(["--model", "fbank", "--data-dir", str(kathbath_dir), "--tasks", "indicsuperb-asr", "--max-steps", "1",
                 "--limit", "2", "-o", f"protocol.lm_path={lm}"], runs)
    assert ran.code == 2
    lines = ran.err.strip().splitlines()
    assert len(lines) == 1 and str(lm) in lines[0] and "Traceback" not in ran.err
    assert ran.units == {}  # nothing was planned into the store, let alone trained


def test_a_language_without_training_transcripts_is_one_line_and_exit_2(tmp_path):
    from tests.fixtures.speech_data import make_kathbath

    data = make_kathbath(tmp_path / "data")
    missing = data / "indicsuperb" / "hindi" / "train" / "transcription.txt"
    missing.unlink()
    ran = bench(["--model", "fbank", "--data-dir", str(data), "--tasks", "indicsuperb-asr", "--max-steps", "1", "--limit", "2"], tmp_path / "runs")
    assert ran.code == 2, ran.err
    # the unit's line as it fails, and the run's summary: `failed: <unit>: <the one-line message>`
    failures = [line for line in ran.err.splitlines() if line.startswith("failed:") and "no training transcripts" in line]
    assert len(failures) == 1 and str(missing) in failures[0] and "Traceback" not in ran.err


def test_trial_audio_that_trims_to_nothing_is_one_line_and_exit_2(tmp_path):
    from polyglue.speech.audio import write_wav
    from tests.fixtures.speech_data import make_kathbath, utterance_paths

    data = make_kathbath(tmp_path / "data", languages=("hindi",))
    for path in utterance_paths(data / "indicsuperb", "hindi", "test"):
        write_wav(path, np.zeros(8000))  # silence: sox `silence 1 0.1 0.1% ...` leaves nothing
    ran = bench(["--model", "fbank", "--data-dir", str(data), "--tasks", "indicsuperb-asv", "--max-steps", "1", "--limit", "3"], tmp_path / "runs")
    assert ran.code == 2, ran.err
    failures = [line for line in ran.err.splitlines() if line.startswith("failed:") and "trim this trial file to nothing" in line]
    assert len(failures) == 1 and "Traceback" not in ran.err
