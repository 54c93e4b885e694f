"""Reading speech corpora: the Kathbath layout, generic manifests, missing languages, bad audio."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from polyglue.cards.registry import Registry
from polyglue.cards.yamlio import dump_yaml
from polyglue.errors import DataError, UserError
from polyglue.speech.corpus.kathbath import KathbathCorpus
from polyglue.speech.corpus.select import load_task_data
from tests.fixtures.speech_data import utterance_paths, write_manifest


@pytest.fixture(scope="module")
def cards():
    reg = Registry.discover()
    return {name: reg.card(name).card for name in reg.cards if name.startswith("indicsuperb")}


def test_kathbath_utterances_carry_speaker_gender_and_transcript_from_names(kathbath_root):
    utts = KathbathCorpus(kathbath_root).utterances("hi", "train")
    assert len(utts) == 6
    first = utts[0]
    stem = Path(first.id).stem
    utt_id, speaker, gender = stem.split("-")
    assert (first.speaker, first.gender, first.language) == (speaker, gender, "hi")
    assert first.id == f"hindi/train/audio/{speaker}/{stem}.wav"
    lines = dict(line.split("\t") for line in (kathbath_root / "hindi" / "train" / "transcription.txt").read_text(encoding="utf-8").splitlines())
    assert first.transcript == lines[f"{stem}.m4a"]  # transcripts name the original .m4a file
    assert {u.speaker for u in utts} == {"100", "101", "102"}


def test_language_folders_may_be_iso_codes(tmp_path, kathbath_root):
    root = tmp_path / "corpus"
    shutil.copytree(kathbath_root / "tamil", root / "ta")
    utts = KathbathCorpus(root).utterances("ta", "valid")
    assert len(utts) == 6 and all(u.language == "ta" for u in utts)


def test_trials_keywords_and_queries(kathbath_root):
    corpus = KathbathCorpus(kathbath_root)
    trials = corpus.trials("ta", "valid")
    assert len(trials) == 15  # all pairs of 6 utterances
    assert sum(t.label for t in trials) == 3
    assert all((t.enroll.speaker == t.test.speaker) == bool(t.label) for t in trials)
    keywords = corpus.keywords("train")
    assert sorted({u.label for u in keywords}) == ["kamala", "selvi", "tiru"] and len(keywords) == 9
    qbe = corpus.qbe({"validation": "valid", "test": "test"})
    assert [len(qbe.queries["validation"]), len(qbe.queries["test"]), len(qbe.docs)] == [2, 2, 5]
    assert qbe.split_rule == "ground-truth column"
    assert sum(qbe.truth.values()) == 5


def test_query_split_by_folder_or_stable_hash(tmp_path, kathbath_root):
    root = tmp_path / "corpus"
    shutil.copytree(kathbath_root / "qbe", root / "qbe")
    truth = root / "qbe" / "ground_truth.tsv"
    truth.write_text("".join("\t".join(line.split("\t")[:3]) + "\n" for line in truth.read_text().splitlines()))
    hashed = KathbathCorpus(root).qbe({"validation": "valid", "test": "test"})
    assert hashed.split_rule == "hash of the query id"
    again = KathbathCorpus(root).qbe({"validation": "valid", "test": "test"})
    assert [u.id for u in hashed.queries["test"]] == [u.id for u in again.queries["test"]]
    (root / "qbe" / "queries" / "test").mkdir()
    for path in sorted((root / "qbe" / "queries").glob("*.wav")):
        path.rename(root / "qbe" / "queries" / "test" / path.name)
    by_folder = KathbathCorpus(root).qbe({"validation": "valid", "test": "test"})
    assert by_folder.split_rule == "folder" and len(by_folder.queries["test"]) == 4


def test_languages_without_data_are_missing_and_languages_flag_restricts(kathbath_root, cards):
    data = load_task_data(cards["indicsuperb-sid"], kathbath_root, requested=None, limit=None)
    assert data.present == ["hi", "ta"]
    assert len(data.missing) == 10 and "bn" in data.missing
    only = load_task_data(cards["indicsuperb-sid"], kathbath_root, requested=["ta", "bn"], limit=2)
    assert only.present == ["ta"] and only.missing == ["bn"]
    assert {u.language for u in only.utterances["train"]} == {"ta"} and len(only.utterances["train"]) == 2
    with pytest.raises(UserError, match="not a language code"):
        load_task_data(cards["indicsuperb-sid"], kathbath_root, requested=["xx"], limit=None)
    with pytest.raises(UserError, match="has both train data"):
        load_task_data(cards["indicsuperb-sid"], kathbath_root, requested=["bn"], limit=None)


def test_given_m4a_audio_then_the_run_stops_with_the_ffmpeg_command(cli, tmp_path):
    data = tmp_path / "data"
    split = data / "indicsuperb" / "hindi" / "train" / "audio" / "100"
    split.mkdir(parents=True)
    (split / "844424931537866-100-f.m4a").write_bytes(b"\x00\x00\x00\x18ftypM4A ")
    result = cli("run", "--suite", "indicsuperb", "--tasks", "indicsuperb-lid", "--model", "fbank", "--data-dir", data,
                 "--runs-dir", tmp_path / "runs", "-q")
    assert result.code == 2
    failure = [line for line in result.err.splitlines() if line.startswith("failed:")]
    assert len(failure) == 1 and "ffmpeg" in failure[0] and "-ar 16000 -ac 1" in failure[0] and "Traceback" not in result.err


def test_given_a_corrupt_wav_then_the_unit_fails_naming_the_file(cli, tmp_path, kathbath_root):
    data = tmp_path / "data"
    shutil.copytree(kathbath_root, data / "indicsuperb")
    bad = utterance_paths(data / "indicsuperb", "hindi", "valid")[0]
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    result = cli("run", "--suite", "indicsuperb", "--tasks", "indicsuperb-lid", "--model", "fbank", "--data-dir", data,
                 "--runs-dir", tmp_path / "runs", "--max-steps", "1", "-q")
    assert result.code == 2
    assert f"{bad}: cannot decode audio" in result.err and "Traceback" not in result.err


def _manifest_card(name: str, task: str, files: dict, fields: dict, metrics: list[str], **extra) -> dict:
    return {
        "name": name, "version": "1.0.0", "title": f"manifest {task}", "languages": ["hin", "tam"], "modality": "speech",
        "task": task, "source": {"layout": {"name": "audio-manifest", "files": files}},
        "splits": {"train": "train", "validation": "dev", "test": "test"}, "fields": fields, **extra,
        "metrics": metrics, "main_metric": metrics[0], "protocol": {"default": "superb", "max_steps": 2, "batch_size": 4},
        "license": "cc0-1.0", "citation": "test fixture",
    }


@pytest.fixture(scope="module")
def manifest_corpus(tmp_path_factory, kathbath_root) -> Path:
    """Another corpus described by CSV/JSONL/TSV manifests (audio copied from the Kathbath fixture)."""
    data = tmp_path_factory.mktemp("manifest") / "othercorpus"
    audio = data / "audio"
    for folder in ("hindi", "tamil"):
        shutil.copytree(kathbath_root / folder, audio / folder)
    corpus = KathbathCorpus(audio)
    rows = {}
    for split, source in (("train", "train"), ("dev", "valid"), ("test", "test")):
        rows[split] = [
            {"a": f"audio/{u.id}", "text": u.transcript, "spk": u.speaker, "lang": {"hi": "hindi", "ta": "tam"}[u.language]}
            for key in ("hi", "ta") for u in corpus.utterances(key, source)
        ]
    write_manifest(data / "asr" / "train.csv", [{**r, "a": "../" + r["a"]} for r in rows["train"]])
    write_manifest(data / "asr" / "dev.jsonl", [{**r, "a": "../" + r["a"]} for r in rows["dev"]])
    write_manifest(data / "asr" / "test.tsv", [{**r, "a": "../" + r["a"]} for r in rows["test"]])
    write_manifest(data / "train.csv", rows["train"])
    for split, source in (("dev", "valid"), ("test", "test")):
        trials = [t for key in ("hi", "ta") for t in KathbathCorpus(kathbath_root).trials(key, source)]
        write_manifest(data / f"{split}_trials.csv", [
            {"a": f"audio/{t.enroll.id}", "b": f"audio/{t.test.id}", "same": t.label, "lang": t.enroll.language} for t in trials
        ])
    return data


def test_asr_manifests_in_csv_jsonl_and_tsv_read_paths_transcripts_and_languages(manifest_corpus):
    from polyglue.cards.schema import Card

    card = Card.model_validate(_manifest_card(
        "other-asr", "asr", {"train": "asr/train.csv", "dev": "asr/dev.jsonl", "test": "asr/test.tsv"},
        {"a": "audio", "text": "transcript", "lang": "language"}, ["wer", "cer"]))
    data = load_task_data(card, manifest_corpus, requested=None, limit=None)
    assert data.present == ["hi", "ta"]
    assert {role: len(items) for role, items in data.utterances.items()} == {"train": 12, "validation": 12, "test": 8}
    first = data.utterances["validation"][0]
    assert first.path.exists() and first.id == "audio/" + first.path.relative_to(manifest_corpus / "audio").as_posix()
    source = KathbathCorpus(manifest_corpus / "audio").utterances("hi", "valid")[0]
    assert (first.transcript, first.language) == (source.transcript, "hi")


def test_generic_manifests_feed_the_same_runners(cli, tmp_path, manifest_corpus):
    """Speaker ID and verification cards over manifests of another corpus, through `bench run`."""
    cards_dir = tmp_path / "cards" / "othercorpus"
    cards_dir.mkdir(parents=True)
    sid = _manifest_card("other-sid", "speaker-id", {"train": "train.csv", "dev": "train.csv", "test": "train.csv"},
                         {"a": "audio", "spk": "speaker", "lang": "language"}, ["accuracy"])
    asv = _manifest_card("other-asv", "speaker-verification", {"train": "train.csv", "dev": "dev_trials.csv", "test": "test_trials.csv"},
                         {"a": "audio", "b": "audio_pair", "same": "label", "spk": "speaker", "lang": "language"}, ["eer"])
    for card in (sid, asv):
        (cards_dir / f"{card['name']}.yaml").write_text(dump_yaml(card), encoding="utf-8")
    suite = {"name": "othercorpus", "version": "1.0.0", "title": "manifest corpus", "cards": ["other-sid", "other-asv"], "citation": "test"}
    (cards_dir / "suite.yaml").write_text(dump_yaml(suite), encoding="utf-8")
    assert cli("validate", cards_dir).code == 0
    result = cli("run", "--suite", "othercorpus", "--cards", tmp_path / "cards", "--model", "fbank", "--data-dir", manifest_corpus.parent,
                 "--runs-dir", tmp_path / "runs", "--languages", "hi", "-q")
    assert result.code == 0, result.err
    from tests.speech.conftest import read_units

    units = read_units(tmp_path / "runs")
    sid_unit = units[("other-sid", "fbank")]
    assert sid_unit["extras"]["languages"] == {"present": ["hi"], "missing": []}
    assert sid_unit["metrics"]["test"]["accuracy@hi"] == sid_unit["metrics"]["test"]["accuracy"]
    assert sid_unit["extras"]["n_examples"] == {"train": 6, "validation": 6, "test": 6}
    asv_unit = units[("other-asv", "fbank")]
    assert set(asv_unit["metrics"]["test"]) == {"eer", "eer@hi"}
    assert asv_unit["extras"]["n_examples"]["test"] == 6  # hindi's test trials only


def test_manifest_rows_pointing_at_missing_audio_are_a_data_error(tmp_path, cards):
    from polyglue.cards.schema import Card

    card = Card.model_validate(_manifest_card("m", "speaker-id", {"train": "t.csv", "dev": "t.csv", "test": "t.csv"},
                                              {"path": "audio", "spk": "speaker"}, ["accuracy"]))
    write_manifest(tmp_path / "t.csv", [{"path": "nowhere.wav", "spk": "1"}])
    with pytest.raises(DataError, match=r"t\.csv:2: audio file .*nowhere\.wav does not exist"):
        load_task_data(card, tmp_path, requested=None, limit=None)


def test_missing_data_dir_is_a_user_error(cli, tmp_path):
    result = cli("run", "--suite", "indicsuperb", "--tasks", "indicsuperb-sid", "--model", "fbank", "--runs-dir", tmp_path / "runs", "-q")
    assert result.code == 2 and "--data-dir" in result.err
