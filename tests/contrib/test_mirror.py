"""`bench fetch` round trip from a local Hub-like server, and what `bench run --data-dir` refuses.

`bench fetch` and Hub streaming run in subprocesses, because huggingface_hub reads
HF_ENDPOINT when it is imported; `bench run` runs in-process, offline (conftest).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from polyglue.data.mirror import MANIFEST, sha256_file, verify_mirror, write_manifest
from polyglue.data.readers import class_label_names, read_parquet
from polyglue.errors import UserError
from tests.fixtures.contrib_data import nli_card, nli_rows, suite_body, write_yaml
from tests.fixtures.contrib_hub import FakeHub, parquet_repo

SOURCE_ORDER = ["neutral", "entailment", "contradiction"]  # the source's ClassLabel order
CARD_ORDER = ["entailment", "neutral", "contradiction"]  # the card lists the same names in another order
SIZES = {"train": 60, "validation": 24, "test": 24}
KWS_SIZES = {"train": 8, "validation": 4, "test": 6}
SAMPLE_RATE_HZ = 8000


def _nli_split(split: str, seed: int) -> list[dict]:
    rows = nli_rows(SIZES[split], seed, start=seed * 1000)
    return [{"idx": r["idx"], "premise": r["premise"], "hypothesis": r["hypothesis"], "label": SOURCE_ORDER.index(r["label"])} for r in rows]


def _wav(seconds: float, freq_hz: float) -> bytes:
    import soundfile as sf

    t = np.arange(int(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32), SAMPLE_RATE_HZ, format="WAV")
    return buf.getvalue()


def _kws_split(split: str) -> list[dict]:
    rows = []
    for i in range(KWS_SIZES[split]):
        seconds = 12.0 if (split == "test" and i == 0) else 0.9 + 0.05 * i  # one utterance far longer than the rest
        rows.append({"audio": {"bytes": _wav(seconds, 300 + 40 * i), "path": f"{split}_{i}.wav"}, "keyword": i % 2})
    return rows


@pytest.fixture(scope="module")
def hub():
    import datasets

    nli_features = datasets.Features(
        {"idx": datasets.Value("int64"), "premise": datasets.Value("string"), "hypothesis": datasets.Value("string"), "label": datasets.ClassLabel(names=SOURCE_ORDER)}
    )
    kws_features = datasets.Features({"audio": datasets.Audio(), "keyword": datasets.ClassLabel(names=["bai", "ez"])})
    server = FakeHub()
    server.add(parquet_repo("polyglue-test/nli-eus", {s: _nli_split(s, i + 1) for i, s in enumerate(SIZES)}, nli_features))
    server.add(parquet_repo("polyglue-test/kws-eus", {s: _kws_split(s) for s in KWS_SIZES}, kws_features))
    server.start()
    yield server
    server.stop()


def _cards(root: Path, *, nli_revision: str = "main", nli_labels=CARD_ORDER) -> Path:
    cards = root / "cards"
    write_yaml(cards / "hubsuite" / "suite.yaml", suite_body("hubsuite", ["nli-eus", "kws-eus"]))
    write_yaml(
        cards / "hubsuite" / "nli-eus.yaml",
        nli_card("nli-eus", {"hub": {"path": "polyglue-test/nli-eus", "revision": nli_revision}}, labels=nli_labels, protocol={"default": "probe"}),
    )
    kws = {
        "name": "kws-eus",
        "version": "1.0.0",
        "title": "Generated keyword spotting",
        "languages": ["eus"],
        "modality": "speech",
        "task": "keyword-spotting",
        "source": {"hub": {"path": "polyglue-test/kws-eus", "revision": "main"}},
        "splits": {"train": "train", "validation": "validation", "test": "test"},
        "fields": {"audio": "audio", "keyword": "label"},
        "labels": ["bai", "ez"],
        "metrics": ["accuracy"],
        "main_metric": "accuracy",
        "license": "cc0-1.0",
        "citation": "Generated test data (no publication).",
    }
    write_yaml(cards / "hubsuite" / "kws-eus.yaml", kws)
    return cards


def bench_online(hub: FakeHub, cwd: Path, *args) -> subprocess.CompletedProcess:
    """`bench ARGS` in a fresh process whose Hub is the local fake one."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    env.update({"HF_ENDPOINT": hub.url, "HF_HOME": str(cwd / "hf-home"), "HF_HUB_DISABLE_TELEMETRY": "1", "NO_PROXY": "127.0.0.1"})
    code = "import sys; from polyglue.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def fetched(hub, tmp_path_factory):
    root = tmp_path_factory.mktemp("mirror")
    cards = _cards(root)
    proc = bench_online(hub, root, "fetch", "--suite", "hubsuite", "--to", root / "mirror", "--cards", cards)
    assert proc.returncode == 0, proc.stderr
    return root, cards, root / "mirror", proc


def test_fetch_writes_the_data_dir_layout_with_a_checksummed_manifest(hub, fetched):
    _root, _cards_dir, mirror, proc = fetched
    nli = mirror / "hubsuite" / "nli-eus"
    assert sorted(p.name for p in nli.iterdir()) == ["manifest.json", "test.parquet", "train.parquet", "validation.parquet"]
    manifest = json.loads((nli / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["format"] == "polyglue-mirror/1"
    assert manifest["resolved_revision"] == hub.repos["polyglue-test/nli-eus"].sha
    assert manifest["source"]["revision"] == "main" and manifest["splits"] == ["train", "validation", "test"]
    assert {name: meta["rows"] for name, meta in manifest["files"].items()} == {f"{s}.parquet": n for s, n in SIZES.items()}
    for name, meta in manifest["files"].items():
        assert meta["sha256"] == sha256_file(nli / name)
    # The Hub's features metadata survived: integer labels still resolve by name.
    assert class_label_names(read_parquet(nli / "train.parquet"), "label") == SOURCE_ORDER
    assert "fetched  nli-eus: polyglue-test/nli-eus@" in proc.stderr


def test_fetch_writes_audio_files_and_lists_them_in_the_manifest(fetched):
    _root, _cards_dir, mirror, _proc = fetched
    kws = mirror / "hubsuite" / "kws-eus"
    manifest = json.loads((kws / MANIFEST).read_text(encoding="utf-8"))
    audio = sorted(n for n in manifest["files"] if n.startswith("audio/"))
    assert len(audio) == sum(KWS_SIZES.values())
    table = read_parquet(kws / "test.parquet")
    paths = table.column("audio").to_pylist()
    assert paths == [f"audio/test/{i:06d}.wav" for i in range(KWS_SIZES["test"])]
    import soundfile as sf

    assert sf.info(kws / paths[0]).frames == 12 * SAMPLE_RATE_HZ
    assert class_label_names(table, "keyword") == ["bai", "ez"]


def test_run_reads_the_mirror_offline_and_maps_labels_by_name(cli, fetched, tmp_path):
    root, cards, mirror, _proc = fetched
    res = cli("run", "--suite", "hubsuite", "--tasks", "nli-eus", "--model", "bow", "--data-dir", mirror, "--cards", cards, "--runs-dir", tmp_path / "runs", "-q")
    assert res.code == 0, res.err
    (pred_file,) = (tmp_path / "runs" / "predictions" / "hubsuite" / "nli-eus").glob("*.jsonl")
    records = [json.loads(line) for line in pred_file.read_text(encoding="utf-8").splitlines()]
    expected = {str(r["idx"]): SOURCE_ORDER[r["label"]] for r in _nli_split("test", 3) + _nli_split("validation", 2)}
    assert len(records) == SIZES["validation"] + SIZES["test"]
    assert {r["id"]: r["gold"] for r in records} == expected


def test_run_refuses_a_tampered_mirror(cli, fetched, tmp_path):
    _root, cards, mirror, _proc = fetched
    copy = tmp_path / "mirror"
    shutil.copytree(mirror, copy)
    target = copy / "hubsuite" / "nli-eus" / "test.parquet"
    args = ("run", "--suite", "hubsuite", "--tasks", "nli-eus", "--model", "bow", "--data-dir", copy, "--cards", cards, "--runs-dir", tmp_path / "runs", "-q")
    assert cli(*args).code == 0  # verified once in this process ...
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    res = cli(*args, "--force")  # ... and the change after that is still caught
    assert res.code == 2
    assert "test.parquet does not match its checksum in manifest.json" in res.err
    assert "re-run `bench fetch`" in res.err


def test_run_refuses_a_mirror_of_another_revision_than_the_card_pins(cli, fetched, tmp_path):
    _root, _cards_dir, mirror, _proc = fetched
    pinned = _cards(tmp_path, nli_revision="f" * 40)
    res = cli("run", "--suite", "hubsuite", "--tasks", "nli-eus", "--model", "bow", "--data-dir", mirror, "--cards", pinned, "--runs-dir", tmp_path / "runs", "-q")
    assert res.code == 2
    assert "but the card pins ffffffffffff" in res.err


def test_fetch_again_skips_what_is_current_and_repairs_what_was_modified(hub, fetched, tmp_path):
    _root, cards, mirror, _proc = fetched
    copy = tmp_path / "mirror"
    shutil.copytree(mirror, copy)
    (copy / "hubsuite" / "nli-eus" / "train.parquet").write_bytes(b"not parquet")
    proc = bench_online(hub, tmp_path, "fetch", "--suite", "hubsuite", "--to", copy, "--cards", cards)
    assert proc.returncode == 0, proc.stderr
    assert "fetched  nli-eus" in proc.stderr
    assert "up-to-date  kws-eus" in proc.stderr
    assert verify_mirror(copy / "hubsuite" / "nli-eus")["resolved_revision"] == hub.repos["polyglue-test/nli-eus"].sha
    assert not list((copy / "hubsuite").glob(".*"))  # no partial or old folders left behind


def test_check_data_streams_a_sample_from_the_hub_and_finds_unknown_labels(hub, tmp_path):
    cards = _cards(tmp_path, nli_labels=["entailment", "neutral"])
    proc = bench_online(hub, tmp_path, "validate", "--check-data", "--format", "json", "--sample", "20", cards / "hubsuite" / "nli-eus.yaml")
    assert proc.returncode == 2, proc.stderr
    problems = json.loads(proc.stdout)["problems"]
    errors = [p for p in problems if p["severity"] == "error"]
    assert errors and all(p["field"] == "labels" for p in errors)
    assert "outside the card's labels [entailment, neutral]" in errors[0]["message"]
    assert "first 20 rows (streamed)" in errors[0]["message"]


def test_check_data_on_the_mirror_flags_the_outlying_utterance(cli, fetched):
    _root, cards, mirror, _proc = fetched
    res = cli("validate", "--check-data", "--data-dir", mirror, "--cards", cards, "--format", "json", cards / "hubsuite" / "kws-eus.yaml")
    assert res.code == 0, res.out
    problems = json.loads(res.out)["problems"]
    durations = [p for p in problems if "outlying durations" in p["message"]]
    assert [(p["field"], p["severity"]) for p in durations] == [("fields.audio", "warning")]
    assert "split 'test': 1 of 6 utterances" in durations[0]["message"] and "row 1 (12.00 s)" in durations[0]["message"]


# ----------------------------------------------------------------------------- verify_mirror without a Hub


def _tiny_mirror(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "train.jsonl").write_text('{"a": 1}\n', encoding="utf-8")
    write_manifest(root, {"card": "x", "resolved_revision": "a" * 40, "files": {"train.jsonl": {"sha256": sha256_file(root / "train.jsonl")}}})
    return root


def test_verify_mirror_catches_a_file_changed_after_an_earlier_verification(tmp_path):
    root = _tiny_mirror(tmp_path / "m")
    assert verify_mirror(root)["card"] == "x"
    (root / "train.jsonl").write_text('{"a": 2}\n', encoding="utf-8")
    with pytest.raises(UserError, match="train.jsonl does not match its checksum"):
        verify_mirror(root)


def test_verify_mirror_names_a_missing_file_and_a_wrong_revision(tmp_path):
    root = _tiny_mirror(tmp_path / "m")
    with pytest.raises(UserError, match="holds revision aaaaaaaaaaaa…, but the card pins bbbbbbbbbbbb…"):
        verify_mirror(root, expected_revision="b" * 40)
    (root / "train.jsonl").unlink()
    with pytest.raises(UserError, match="train.jsonl is listed in manifest.json but missing"):
        verify_mirror(root)


def test_fetch_offline_is_a_one_line_error(cli, tmp_path):
    cards = _cards(tmp_path)
    res = cli("fetch", "--suite", "hubsuite", "--to", tmp_path / "m", "--cards", cards)
    assert res.code == 2
    assert "`bench fetch` reads the Hugging Face Hub, but HF_HUB_OFFLINE=1 is set" in res.err
    assert not (tmp_path / "m").exists()


def test_fetch_skips_cards_with_local_files(cli, tmp_path):
    from tests.fixtures.contrib_data import local_source

    write_yaml(tmp_path / "cards" / "loc" / "suite.yaml", suite_body("loc", ["l"]))
    write_yaml(tmp_path / "cards" / "loc" / "l.yaml", nli_card("l", local_source()))
    res = cli("fetch", "--suite", "loc", "--to", tmp_path / "m", "--cards", tmp_path / "cards")
    assert res.code == 0
    assert "skipped  l: reads local files next to the card; nothing to mirror" in res.err
    assert "0 card(s) mirrored" in res.out


def test_fetch_never_replaces_a_folder_it_did_not_write(cli, tmp_path, monkeypatch):
    cards = _cards(tmp_path)
    own = tmp_path / "m" / "hubsuite" / "nli-eus"
    own.mkdir(parents=True)
    (own / "train.jsonl").write_text('{"my": "data"}\n', encoding="utf-8")
    monkeypatch.setattr("polyglue.data.fetch.hub_offline_reason", lambda: None)
    res = cli("fetch", "--suite", "hubsuite", "--tasks", "nli-eus", "--to", tmp_path / "m", "--cards", cards)
    assert res.code == 2
    assert "exists and is not a polyglue mirror (no manifest.json)" in res.err
    assert (own / "train.jsonl").read_text(encoding="utf-8") == '{"my": "data"}\n'
