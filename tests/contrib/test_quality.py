"""`--check-data` findings on local data with planted problems (exact counts, the right field and line)."""

from __future__ import annotations


import numpy as np
import pytest

from polyglue.cards.registry import Registry
from polyglue.data.audio_checks import duration_outliers
from polyglue.data.quality import check_card_data
from tests.fixtures.contrib_data import local_source, nli_card, nli_rows, write_jsonl, write_yaml


def _entry(cards_dir, name):
    reg = Registry.discover([cards_dir], builtin=False)
    assert reg.errors() == [], [p.render() for p in reg.errors()]
    return reg.cards[name]


def _by_split(report, needle):
    return [p for p in report.problems if needle in p.message]


@pytest.fixture
def nli_dir(tmp_path):
    d = tmp_path / "cards" / "q"
    train = nli_rows(20, 1)
    train[5] = dict(train[2], idx=5)  # the same input twice in train
    validation = nli_rows(10, 2, start=100)
    validation[0] = dict(train[7], idx=100)  # leaked from train
    validation[1] = dict(train[8], idx=101)
    validation[2]["premise"] = "   "
    validation[3]["hypothesis"] = "ok"
    test = nli_rows(10, 3, start=200)
    test[4]["label"] = "maybe"
    test[6]["label"] = "7"  # an index string: outside the card's 3 labels
    test[8]["label"] = "maybe"
    for split, rows in {"train": train, "validation": validation, "test": test}.items():
        write_jsonl(d / "data" / f"{split}.jsonl", rows)
    write_yaml(d / "nli.yaml", nli_card("nli", local_source()))
    write_yaml(d / "topic.yaml", nli_card("topic", local_source(), fields={"idx": "id", "premise": "text", "topic": "text_pair", "label": "label"}))
    return d


def test_labels_outside_the_list_are_errors_on_the_labels_line(nli_dir):
    entry = _entry(nli_dir, "nli")
    report = check_card_data(entry, suite=None, data_dir=None)
    (bad,) = _by_split(report, "outside the card's labels")
    assert (bad.severity, bad.field, bad.line) == ("error", "labels", entry.line("labels"))
    assert "split 'test': 2 value(s) of 'label'" in bad.message
    assert "'maybe' (2 rows), '7' (1 row)" in bad.message


def test_duplicates_overlap_and_short_texts_are_warnings_with_counts(nli_dir):
    report = check_card_data(_entry(nli_dir, "nli"), suite=None, data_dir=None)
    (dup,) = _by_split(report, "repeat an earlier one")
    assert (dup.severity, dup.field) == ("warning", "splits.train")
    assert dup.message.startswith("1 of 20 inputs repeat an earlier one (5.0%)") and "row 6 = row 3" in dup.message
    (leak,) = _by_split(report, "also occur in train")
    assert (leak.severity, leak.field) == ("warning", "splits.validation")
    assert leak.message.startswith("2 of 10 'validation' inputs also occur in train (20.0%")
    (empty,) = _by_split(report, "empty text")
    assert (empty.field, empty.message) == ("fields.premise", "split 'validation': 1 empty text(s) in all 10 rows (rows 3)")
    (short,) = _by_split(report, "shorter than 3 characters")
    assert short.field == "fields.hypothesis" and "'ok'" in short.message
    assert {p.severity for p in report.problems} == {"error", "warning"}
    assert len(report.problems) == 5


def test_a_column_the_card_names_but_the_data_lacks_is_an_error_per_split(nli_dir):
    entry = _entry(nli_dir, "topic")
    report = check_card_data(entry, suite=None, data_dir=None)
    assert [(p.field, p.line, p.severity) for p in report.problems] == [("fields.topic", entry.line("fields", "topic"), "error")] * 3
    assert "column 'topic' (text_pair) is missing from split 'train'" in report.problems[0].message


def test_sample_limits_the_rows_read(nli_dir):
    report = check_card_data(_entry(nli_dir, "nli"), suite=None, data_dir=None, sample=5)
    counted = [p.message for p in report.problems if "rows" in p.message]
    assert counted and all("5 sampled rows" in m for m in counted), counted


def test_token_cards_report_uneven_tags_unknown_tags_and_empty_sentences(tmp_path):
    d = tmp_path / "cards"
    rows = [
        {"tokens": ["Ane", "Bilbon", "dago"], "ner": ["B-PER", "B-LOC", "O"]},
        {"tokens": ["Jon", "etxean"], "ner": ["B-PER"]},
        {"tokens": [], "ner": []},
        {"tokens": ["Miren", "Gasteizen"], "ner": ["B-PER", "B-GPE"]},
    ]
    for split in ("train", "validation", "test"):
        write_jsonl(d / "data" / f"{split}.jsonl", rows)
    body = nli_card("ner", local_source(), task="token-classification", fields={"tokens": "tokens", "ner": "tags"})
    body.update(labels=["O", "B-PER", "B-LOC"], metrics=["seqeval_f1"], main_metric="seqeval_f1")
    write_yaml(d / "ner.yaml", body)
    report = check_card_data(_entry(d, "ner"), suite=None, data_dir=None)
    train = [p for p in report.problems if "split 'train'" in p.message]
    assert [(p.field, p.severity) for p in train] == [("labels", "error"), ("fields.tokens", "warning"), ("fields.ner", "error")]
    assert "'B-GPE' (1 row)" in train[0].message
    assert "1 row(s) whose tags and tokens differ in length (rows 2)" in train[2].message


def test_hidden_test_labels_are_not_reported(tmp_path):
    d = tmp_path / "cards"
    write_jsonl(d / "data" / "train.jsonl", nli_rows(12, 1))
    write_jsonl(d / "data" / "validation.jsonl", nli_rows(6, 2, start=50))
    write_jsonl(d / "data" / "test.jsonl", [dict(r, label=-1) for r in nli_rows(6, 3, start=90)])
    write_yaml(d / "h.yaml", nli_card("h", local_source(), splits={"train": "train", "validation": "validation", "test": {"name": "test", "labels": "hidden"}}))
    report = check_card_data(_entry(d, "h"), suite=None, data_dir=None)
    assert [p for p in report.problems if p.severity == "error"] == []


def test_regression_targets_that_are_not_numbers_are_errors(tmp_path):
    d = tmp_path / "cards"
    rows = [{"a": f"lehen esaldia {i}", "b": f"bigarren esaldia {i}", "score": s} for i, s in enumerate(["1.5", "n/a", "3", "4.0"])]
    for split in ("train", "validation", "test"):
        write_jsonl(d / "data" / f"{split}.jsonl", rows)
    body = nli_card("sts", local_source(), task="regression", fields={"a": "text", "b": "text_pair", "score": "label"}, labels=None)
    body.update(metrics=["pearson"], main_metric="pearson")
    del body["labels"]
    write_yaml(d / "sts.yaml", body)
    report = check_card_data(_entry(d, "sts"), suite=None, data_dir=None)
    errors = [p for p in report.problems if p.severity == "error"]
    assert len(errors) == 3 and all(p.field == "fields.score" and "not a number: 'n/a' (1 row)" in p.message for p in errors)


def _wav_file(path, seconds, rate_hz=8000):
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(seconds * rate_hz), dtype=np.float32), rate_hz)


def test_audio_missing_unreadable_and_outlying_files(tmp_path):
    d = tmp_path / "cards"
    rows = []
    for i in range(8):
        seconds = 30.0 if i == 3 else 1.0 + 0.1 * i
        _wav_file(d / "data" / "wav" / f"u{i}.wav", seconds)
        rows.append({"path": f"wav/u{i}.wav", "kw": "bai" if i % 2 else "ez"})
    (d / "data" / "wav" / "broken.wav").write_bytes(b"RIFF not really audio")
    rows += [{"path": "wav/missing.wav", "kw": "ez"}, {"path": "wav/broken.wav", "kw": "bai"}]
    for split in ("train", "validation", "test"):
        write_jsonl(d / "data" / f"{split}.jsonl", rows)
    body = nli_card("kws", local_source(), modality="speech", task="keyword-spotting", fields={"path": "audio", "kw": "label"}, labels=["bai", "ez"])
    body.update(metrics=["accuracy"], main_metric="accuracy")
    write_yaml(d / "kws.yaml", body)
    report = check_card_data(_entry(d, "kws"), suite=None, data_dir=None)
    train = [p for p in report.problems if "split 'train'" in p.message]
    assert [(p.field, p.severity) for p in train] == [("fields.path", "error"), ("fields.path", "warning")]
    assert train[0].message.startswith("split 'train': 2 audio file(s) cannot be read, e.g. row 9: wav/missing.wav not found")
    assert "row 10: broken.wav:" in train[0].message
    assert "1 of 8 utterances have outlying durations" in train[1].message and "row 4 (30.00 s)" in train[1].message


def test_duration_outliers_use_a_robust_spread_and_an_absolute_floor():
    assert duration_outliers([3.0, 3.2, 2.9, 3.1, 3.0, 40.0, 0.05]) == [5, 6]
    assert duration_outliers([2.0] * 5) == []  # no spread: nothing is far from the rest
    assert duration_outliers([]) == []


def test_layout_cards_are_skipped_with_a_note(tmp_path):
    d = tmp_path / "cards"
    body = nli_card("kb", {"layout": {"name": "kathbath"}}, modality="speech", task="asr", fields={}, labels=None)
    del body["labels"]
    body.update(metrics=["wer"], main_metric="wer")
    write_yaml(d / "kb.yaml", body)
    report = check_card_data(_entry(d, "kb"), suite=None, data_dir=None)
    assert report.problems == []
    assert report.notes == ["kb: skipped, the 'kathbath' layout is read by the speech runner"]


def test_a_hub_card_without_a_mirror_offline_is_one_error_naming_bench_fetch(tmp_path):
    d = tmp_path / "cards"
    write_yaml(d / "hubcard.yaml", nli_card("hubcard", {"hub": {"path": "some-org/nli", "revision": "a" * 40}}))
    entry = _entry(d, "hubcard")
    report = check_card_data(entry, suite="s", data_dir=tmp_path)
    (problem,) = report.problems
    assert (problem.field, problem.line, problem.severity) == ("source.hub.path", entry.line("source", "hub", "path"), "error")
    assert "HF_HUB_OFFLINE=1 is set" in problem.message and f"check {tmp_path}/s/hubcard/ instead" in problem.message
