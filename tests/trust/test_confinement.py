"""No trial list, manifest or mirror makes polyglue read outside the data root; devices are refused unread."""

from __future__ import annotations

import json
import os

import pytest

from polyglue.data.confine import confined, regular_file
from polyglue.errors import DataError


def test_trial_lines_that_leave_the_root_are_refused_with_file_and_line(tmp_path):
    from polyglue.speech.corpus.kathbath import read_trials

    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "x.wav").write_bytes(b"")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.wav").write_bytes(b"")
    (root / "link.wav").symlink_to(outside / "x.wav")
    for line, needle in [
        ("0\t../outside/x.wav\ta/x.wav", "points outside"),
        ("0\ta/x.wav\t/etc/passwd", "is absolute"),
        ("1\tlink.wav\ta/x.wav", "points outside"),
    ]:
        trials = root / "trials.txt"
        trials.write_text("1\ta/x.wav\ta/x.wav\n" + line + "\n")
        with pytest.raises(DataError) as info:
            read_trials(trials, root, None)
        assert f"{trials}:2:" in str(info.value) and needle in str(info.value)
    trials.write_text("1\ta/x.wav\ta/x.wav\n")
    assert len(read_trials(trials, root, None)) == 1


def test_confined_and_regular_file_refuse_escapes_devices_fifos_and_folders(tmp_path):
    with pytest.raises(DataError, match="outside"):
        confined(tmp_path, "a/../../etc/passwd", where="m.csv:3")
    assert confined(tmp_path, "a/../b.wav", where="m.csv:3") == tmp_path / "b.wav"
    with pytest.raises(DataError, match="folder"):
        regular_file(tmp_path)
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        regular_file(fifo)
    if os.path.exists("/dev/zero"):
        from polyglue.data.readers import read_table

        with pytest.raises(DataError, match="not a regular file"):
            read_table("/dev/zero", "jsonl")


def _mirror(root, files: dict[str, bytes]):
    from polyglue.data.mirror import file_entry, write_manifest

    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (root / name).write_bytes(data)
    write_manifest(root, {"files": {name: file_entry(root / name) for name in files}})


def test_a_file_beside_the_manifest_that_it_does_not_list_is_refused(tmp_path):
    from polyglue.cards.schema import Card
    from polyglue.data.materialize import DataResolver
    from tests.fixtures.core_suite import card_body

    body = card_body("c", "single-classification", {"train": "x.jsonl", "test": "y.jsonl"}, fields={"s": "text", "label": "label"}, labels=["a", "b"])
    card = Card.model_validate(body)
    mirror = tmp_path / "s" / "c"
    _mirror(mirror, {"train.jsonl": b'{"s": "x", "label": "a"}\n'})
    assert DataResolver(card, None, suite="s", data_dir=tmp_path).split("train").table.num_rows == 1
    (mirror / "train.parquet").write_bytes(b"PAR1 not listed")  # parquet is tried before jsonl
    with pytest.raises(DataError, match="train.parquet is not listed in its manifest"):
        DataResolver(card, None, suite="s", data_dir=tmp_path).split("train")


def test_manifest_entries_outside_the_mirror_are_refused(tmp_path):
    from polyglue.data.mirror import verify_mirror
    from polyglue.errors import UserError

    mirror = tmp_path / "m"
    _mirror(mirror, {"train.jsonl": b"{}\n"})
    body = json.loads((mirror / "manifest.json").read_text())
    body["files"]["../../etc/passwd"] = {"sha256": "0" * 64}
    (mirror / "manifest.json").write_text(json.dumps(body))
    with pytest.raises(UserError, match="not a relative path inside the mirror"):
        verify_mirror(mirror)


def test_audio_manifest_rows_outside_the_root_are_refused(tmp_path):
    from polyglue.cards.schema import Card
    from polyglue.speech.corpus.manifest import ManifestCorpus

    card = Card.model_validate({
        "name": "asr-x", "version": "1.0.0", "title": "t", "languages": ["hin"], "modality": "speech", "task": "asr",
        "source": {"layout": {"name": "audio-manifest", "files": {"train": "m.csv", "test": "m.csv"}}},
        "splits": {"train": "train", "test": "test"}, "fields": {"a": "audio", "t": "transcript"},
        "metrics": ["wer"], "main_metric": "wer", "license": "cc0-1.0", "citation": "x",
    })
    (tmp_path / "m.csv").write_text("a,t\n../../outside/x.wav,hello\n")
    with pytest.raises(DataError, match=r"m.csv:2: path '../../outside/x.wav' points outside"):
        ManifestCorpus(tmp_path, card).utterances("train")


def test_a_pinned_card_read_from_a_copy_without_manifest_is_marked_not_comparable(tmp_path):
    from polyglue.cards.registry import Registry
    from polyglue.runs.plan import RunRequest, plan_run

    reg = Registry.discover([])

    def pinned(name):  # a pinned Hub card that reads no other card's data (`train_from`)
        card = reg.card(name).card
        return card.source.hub is not None and card.source.hub.pinned and card.train_from is None

    suite = next(name for name, entry in reg.suites.items() if any(pinned(c) for c in entry.suite.cards))
    card = next(c for c in reg.suite(suite).suite.cards if pinned(c))
    (tmp_path / suite / card).mkdir(parents=True)
    plan = plan_run(reg, RunRequest(suite=suite, models=["bow"], tasks=[card], data_dir=tmp_path, allow_unverified_data=True))
    mark = plan.tasks[0].comparability
    assert not mark["comparable"] and "without a manifest.json" in mark["reasons"][0]
    (tmp_path / suite / card / "manifest.json").write_text("{}")
    assert plan_run(reg, RunRequest(suite=suite, models=["bow"], tasks=[card], data_dir=tmp_path)).tasks[0].comparability["comparable"]


def test_local_card_files_outside_the_project_folder_are_refused(tmp_path):
    from polyglue.cards.schema import Card
    from polyglue.data.materialize import DataResolver
    from tests.fixtures.core_suite import card_body

    project = tmp_path / "project"
    card_dir = project / "cards" / "s"
    card_dir.mkdir(parents=True)
    (project / "data").mkdir()
    (project / "data" / "t.jsonl").write_text('{"s": "x", "label": "a"}\n')
    secret = tmp_path / "secret.jsonl"
    secret.write_text('{"s": "root:x:0:0", "label": "root"}\n')
    ok = card_body("c", "single-classification", {"train": "../../data/t.jsonl", "test": "../../../secret.jsonl"},
                   fields={"s": "text", "label": "label"}, labels=["a", "b"])
    card = Card.model_validate(ok)
    assert DataResolver(card, card_dir / "c.yaml").split("train").table.num_rows == 1
    with pytest.raises(DataError) as info:
        DataResolver(card, card_dir / "c.yaml").split("test")
    assert "source.local.files.test" in str(info.value) and "outside" in str(info.value) and "root:x" not in str(info.value)
