"""Text data reaches the runners through every path a user has: Hub raw files, mirrors, own treebanks.

- A card's `data_files` are downloaded as they are (pinned revision) and read by extension:
  checked with `huggingface_hub` replaced by a local folder laid out like each repository.
- Labels are mapped by name: an NLI mirror whose ClassLabel order differs from the card's
  scores exactly like one in the card's order.
- A user's own CoNLL-U treebank and CoNLL NER file work through `--data-dir`.
"""

from __future__ import annotations

import json
import shutil

import pytest

from polyglue.cards.registry import Registry
from polyglue.data.materialize import DataResolver
from polyglue.runs.store import Store
from tests.fixtures.text_mirrors import NLI, seal_mirror, write_mirror

REGISTRY = Registry.discover()

#: card -> {file in the Hub repository: mirror file it mirrors}
HUB_FILES = {
    "ancora-ca-ner": {"train.conll": "train.conll", "dev.conll": "validation.conll", "test.conll": "test.conll"},
    "sts-ca": {"train.tsv": "train.tsv", "dev.tsv": "validation.tsv", "test.tsv": "test.tsv"},
    "tecla": {"train.json": "train.json", "dev.json": "validation.json", "test.json": "test.json"},
    "viquiquad": {"train.json": "train.json", "dev.json": "validation.json", "test.json": "test.json"},
    "xquad-ca": {"test.json": "test.json"},
    "ancora-ca-pos": {f"ca_ancora/{s}/0000.parquet": f"{s}.parquet" for s in ("train", "validation", "test")},
    "el-gdt-pos": {f"el_gdt/{s}/0000.parquet": f"{s}.parquet" for s in ("train", "validation", "test")},
}


@pytest.fixture
def fake_hub(text_data, tmp_path, monkeypatch):
    """`hf_hub_download` served from a folder per repository, laid out as the repository is."""
    import huggingface_hub

    calls = []
    for card_name, files in HUB_FILES.items():
        card = REGISTRY.card(card_name).card
        suite = next(s for s, e in REGISTRY.suites.items() if card_name in e.suite.cards)
        for repo_file, mirror_file in files.items():
            target = tmp_path / card.source.hub.path / card.source.hub.revision / repo_file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(text_data / suite / card_name / mirror_file, target)

    def download(repo_id, filename, *, repo_type=None, revision=None, **_):
        calls.append((repo_id, filename, repo_type, revision))
        return str(tmp_path / repo_id / revision / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr("polyglue.data.materialize.hub_offline_reason", lambda: None)
    return calls


@pytest.mark.parametrize("card_name", sorted(HUB_FILES))
def test_given_hub_data_files_then_raw_files_are_read_at_the_pinned_revision(fake_hub, card_name):
    entry = REGISTRY.card(card_name)
    card = entry.card
    data = DataResolver(card, entry.path)  # no --data-dir: the Hub path
    for role in card.splits.roles():
        split = data.split(role)
        assert len(split) == 24
        for role_name in card.fields.values():
            assert card.role_column(role_name) in split.table.column_names
    assert {call[1] for call in fake_hub} == set(HUB_FILES[card_name])
    assert {(c[0], c[2], c[3]) for c in fake_hub} == {(card.source.hub.path, "dataset", card.source.hub.revision)}


def test_given_sts_ca_tsv_without_header_then_columns_come_from_the_card(fake_hub):
    entry = REGISTRY.card("sts-ca")
    split = DataResolver(entry.card, entry.path).split("validation")
    assert split.table.column_names == ["id", "sentence1", "sentence2", "label"]
    assert all(0.0 <= float(v) <= 5.5 for v in split.column("label"))


def _run(cli, data_dir, runs_dir, suite, tasks, *extra):
    result = cli("run", "--suite", suite, "--tasks", tasks, "--model", "bow", "--data-dir", data_dir, "--runs-dir", runs_dir, "-q", *extra)
    assert result.code == 0, result.err
    store = Store(runs_dir)
    [unit] = [u for u in store.units() if u["card"] == tasks]
    store.close()
    records = [json.loads(line) for line in (runs_dir / unit["predictions_path"]).read_text(encoding="utf-8").splitlines()]
    return unit, records


def test_given_nli_labels_in_another_index_order_then_scores_are_identical(cli, tmp_path):
    # GREEK-BERT's own XNLI code orders labels neutral, contradiction, entailment.
    same = write_mirror(tmp_path / "card-order", "greek", ["xnli-el"], n=60)
    other = write_mirror(tmp_path / "greekbert-order", "greek", ["xnli-el"], n=60, order=["neutral", "contradiction", "entailment"])
    unit_a, records_a = _run(cli, same, tmp_path / "runs-a", "greek", "xnli-el", "--seeds", "1")
    unit_b, records_b = _run(cli, other, tmp_path / "runs-b", "greek", "xnli-el", "--seeds", "1")
    assert unit_a["metrics"] == unit_b["metrics"]
    assert records_a == records_b
    # Gold names are what the permuted file's own ClassLabel says, row by row ...
    import pyarrow.parquet as pq

    order = ["neutral", "contradiction", "entailment"]
    raw = pq.read_table(other / "greek" / "xnli-el" / "test.parquet").column("label").to_pylist()
    assert [r["gold"] for r in records_b if r["split"] == "test"] == [order[i] for i in raw]
    # ... and the keyword signal planted per label name is learnt, so names line up with content.
    assert unit_a["metrics"]["test"]["accuracy"] > 0.6
    assert {r["gold"] for r in records_a} == set(NLI)


CONLLU = """# sent_id = s{k}
# text = {text}
1\tEl\tel\tDET\tda0ms0\t_\t2\tdet\t_\t_
2\tgat\tgat\tNOUN\tncms000\t_\t3\tnsubj\t_\t_
3-4\tdel\t_\t_\t_\t_\t_\t_\t_\t_
3\tde\tde\tADP\tspcms\t_\t5\tcase\t_\t_
4\tel\tel\tDET\tda0ms0\t_\t5\tdet\t_\t_
5\t{noun}\t{noun}\tNOUN\tncms000\t_\t0\troot\t_\t_
6\t.\t.\tPUNCT\tfp\t_\t5\tpunct\t_\t_

"""


def test_given_an_own_conllu_treebank_via_data_dir_then_pos_runs_on_it(cli, tmp_path):
    root = tmp_path / "data" / "club" / "ancora-ca-pos"
    root.mkdir(parents=True)
    nouns = ["veí", "poble", "riu", "mercat", "carrer", "port"]
    for split in ("train", "validation", "test"):
        text = "".join(CONLLU.format(k=f"{split}-{k}", text="El gat del veí.", noun=nouns[k % 6]) for k in range(12))
        (root / f"{split}.conllu").write_text(text, encoding="utf-8")
    unit, records = _run(cli, tmp_path / "data", tmp_path / "runs", "club", "ancora-ca-pos", "--allow-unverified-data")  # the user's own files
    test = [r for r in records if r["split"] == "test"]
    assert len(test) == 12 and test[0]["id"] == "test-0"
    assert test[0]["gold"] == ["DET", "NOUN", "ADP", "DET", "NOUN", "PUNCT"]  # the multi-word token line is skipped
    assert unit["metrics"]["test"]["token_accuracy"] == pytest.approx(1.0)


def test_given_an_own_conll_ner_file_via_data_dir_then_ner_runs_on_it(cli, tmp_path):
    root = tmp_path / "data" / "club" / "ancora-ca-ner"
    root.mkdir(parents=True)
    sentence = "La\tO\nJoana Maria\tB-PER\nviu\tO\na\tO\nGirona\tB-LOC\n.\tO\n"  # a token with a space, tab-separated
    for split in ("train", "validation", "test"):
        (root / f"{split}.conll").write_text("-DOCSTART-\tO\n\n" + "\n".join([sentence] * 10), encoding="utf-8")
    unit, records = _run(cli, tmp_path / "data", tmp_path / "runs", "club", "ancora-ca-ner", "--allow-unverified-data")  # the user's own files
    test = [r for r in records if r["split"] == "test"]
    assert len(test) == 10
    assert test[0]["gold"] == ["O", "B-PER", "O", "O", "B-LOC", "O"]
    assert unit["metrics"]["test"]["seqeval_f1"] == pytest.approx(1.0)


def test_given_hidden_test_labels_then_the_test_file_is_never_needed(cli, tmp_path):
    data = write_mirror(tmp_path / "data", "glue", ["rte"], n=20)
    (data / "glue" / "rte" / "test.parquet").unlink()
    seal_mirror(data / "glue" / "rte", "glue", "rte")  # a mirror fetched without the test split
    unit, records = _run(cli, data, tmp_path / "runs", "glue", "rte")
    assert set(unit["metrics"]) == {"validation"} and {r["split"] for r in records} == {"validation"}
