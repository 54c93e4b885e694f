"""Materialising splits (local files, --data-dir mirrors, the Hub offline) and resolving labels by name."""

from __future__ import annotations

import json
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from polyglue.cards.schema import Card
from polyglue.data.labels import LabelSpace
from polyglue.data.materialize import DataResolver
from polyglue.errors import DataError, UserError
from tests.fixtures.core_suite import card_body

NLI = ["entailment", "neutral", "contradiction"]


def nli_card(**source) -> Card:
    body = card_body(
        "nli-test",
        "pair-classification",
        {"train": "train.jsonl", "validation": "validation.jsonl"},
        fields={"premise": "text", "hypothesis": "text_pair", "label": "label"},
        labels=NLI,
    )
    if source:
        body["source"] = source
    return Card.model_validate(body)


def hf_parquet(path, rows: list[dict], label_names: list[str]):
    """A parquet file as the Hub writes it: ClassLabel names in the `huggingface` schema metadata."""
    table = pa.Table.from_pylist(rows)
    features = {
        "premise": {"dtype": "string", "_type": "Value"},
        "hypothesis": {"dtype": "string", "_type": "Value"},
        "label": {"names": label_names, "_type": "ClassLabel"},
    }
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    pq.write_table(table.replace_schema_metadata(meta), path)


def test_given_a_data_dir_mirror_when_loading_then_the_mirror_wins_and_labels_map_by_source_names(tmp_path):
    card = nli_card(hub={"path": "facebook/xnli", "config": "el"})
    mirror = tmp_path / "greek" / "nli-test"
    mirror.mkdir(parents=True)
    # CLUE orders NLI labels neutral/entailment/contradiction; the card lists them in XNLI order.
    clue_order = ["neutral", "entailment", "contradiction"]
    rows = [{"premise": "p", "hypothesis": "h", "label": clue_order.index(name)} for name in ["entailment", "neutral", "contradiction", "entailment"]]
    hf_parquet(mirror / "train.parquet", rows, clue_order)
    split = DataResolver(card, None, suite="greek", data_dir=tmp_path).split("train")
    assert split.origin.endswith("train.parquet")
    assert split.source_label_names == clue_order
    space = LabelSpace(card.labels, split.source_label_names)
    assert [card.labels[i] for i in space.encode(split.column("label"), split.origin)] == ["entailment", "neutral", "contradiction", "entailment"]


@pytest.mark.parametrize("ext", ["jsonl", "csv", "tsv", "parquet"])
def test_data_dir_reads_every_tabular_format_with_names_or_indices(tmp_path, ext):
    card = nli_card(hub={"path": "facebook/xnli", "config": "el"})
    mirror = tmp_path / "s" / "nli-test"
    mirror.mkdir(parents=True)
    rows = [{"premise": "a b", "hypothesis": "c", "label": "neutral"}, {"premise": "d", "hypothesis": "e", "label": "2"}]
    if ext == "jsonl":
        (mirror / "validation.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif ext in ("csv", "tsv"):
        sep = "," if ext == "csv" else "\t"
        text = sep.join(rows[0]) + "\n" + "".join(sep.join(str(v) for v in r.values()) + "\n" for r in rows)
        (mirror / f"validation.{ext}").write_text(text)
    else:
        pq.write_table(pa.Table.from_pylist(rows), mirror / "validation.parquet")
    split = DataResolver(card, None, suite="s", data_dir=tmp_path).split("validation")
    codes = LabelSpace(card.labels).encode(split.column("label"), split.origin)
    assert [card.labels[i] for i in codes] == ["neutral", "contradiction"]


def test_an_unknown_label_is_a_one_line_error_naming_file_row_and_labels(tmp_path):
    card = nli_card()
    (tmp_path / "train.jsonl").write_text('{"premise": "a", "hypothesis": "b", "label": "entails"}\n')
    split = DataResolver(card, tmp_path / "card.yaml").split("train")
    with pytest.raises(DataError) as err:
        LabelSpace(card.labels).encode(split.column("label"), split.origin)
    message = str(err.value)
    assert "\n" not in message
    assert "train.jsonl: row 1: label 'entails' is not among the card's labels [entailment, neutral, contradiction]" in message


def test_a_missing_column_names_the_columns_that_exist(tmp_path):
    card = nli_card()
    (tmp_path / "train.jsonl").write_text('{"premise": "a", "hyp": "b", "label": 0}\n')
    split = DataResolver(card, tmp_path / "card.yaml").split("train")
    with pytest.raises(DataError, match=r"column 'hypothesis' is missing \(columns: premise, hyp, label\)"):
        split.column("hypothesis")


def test_hidden_labels_are_accepted_only_where_declared():
    space = LabelSpace(NLI)
    assert space.encode([-1, 0], "x", allow_hidden=True).tolist() == [-1, 0]
    with pytest.raises(DataError, match="hidden label"):
        space.encode([-1], "x")


def test_label_indices_without_source_names_follow_the_card_order_and_out_of_range_fails():
    space = LabelSpace(NLI)
    assert space.encode([2, "1", "neutral"], "x").tolist() == [2, 1, 1]
    with pytest.raises(DataError, match="outside the card's 3 labels"):
        space.encode([3], "x")


def test_an_unreachable_hub_fails_fast_naming_fetch_and_data_dir():
    card = nli_card(hub={"path": "facebook/xnli", "config": "el", "revision": "b8dd5d7af51114dbda02c0e3f6133f332186418e"})
    start = time.perf_counter()
    with pytest.raises(UserError) as err:
        DataResolver(card, None, suite="greek").split("train")
    assert time.perf_counter() - start < 1.0
    assert "bench fetch --suite greek" in str(err.value) and "--data-dir" in str(err.value)


def test_limit_takes_the_same_random_sample_every_time(tmp_path):
    card = nli_card()
    rows = "".join(json.dumps({"premise": str(i), "hypothesis": "h", "label": i % 3}) + "\n" for i in range(50))
    (tmp_path / "train.jsonl").write_text(rows)
    a = DataResolver(card, tmp_path / "c.yaml", limit=10).split("train").column("premise")
    b = DataResolver(card, tmp_path / "c.yaml", limit=10).split("train").column("premise")
    assert a == b and len(a) == 10 and a != [str(i) for i in range(10)]


def test_a_tampered_mirror_is_refused(tmp_path):
    from polyglue.data.mirror import FORMAT, sha256_file

    card = nli_card(hub={"path": "facebook/xnli", "config": "el"})
    mirror = tmp_path / "s" / "nli-test"
    mirror.mkdir(parents=True)
    path = mirror / "train.jsonl"
    path.write_text('{"premise": "a", "hypothesis": "b", "label": 0}\n')
    manifest = {"format": FORMAT, "files": {"train.jsonl": {"sha256": sha256_file(path), "rows": 1}}}
    (mirror / "manifest.json").write_text(json.dumps(manifest))
    assert len(DataResolver(card, None, suite="s", data_dir=tmp_path).split("train")) == 1
    path.write_text('{"premise": "a", "hypothesis": "b", "label": 1}\n')
    import os

    os.utime(mirror / "manifest.json", (time.time() + 5, time.time() + 5))
    with pytest.raises(UserError, match="does not match its checksum"):
        DataResolver(card, None, suite="s", data_dir=tmp_path).split("train")


def test_conllu_treebank_rows_use_the_universal_dependencies_columns(tmp_path):
    from polyglue.data.readers import read_table

    text = "# sent_id = s1\n1\tEl\tel\tDET\t_\t_\t2\tdet\t_\t_\n1-2\tdel\t_\t_\t_\t_\t_\t_\t_\t_\n2\tgat\tgat\tNOUN\t_\t_\t0\troot\t_\t_\n\n"
    (tmp_path / "t.conllu").write_text(text)
    rows = read_table(tmp_path / "t.conllu", "conllu").to_pylist()
    assert rows[0]["id"] == "s1" and rows[0]["tokens"] == ["El", "gat"] and rows[0]["upos"] == ["DET", "NOUN"]


def test_regression_targets_must_be_numbers():
    from polyglue.data.labels import encode_regression

    assert np.allclose(encode_regression(["1.5", 2], "x"), [1.5, 2.0])
    with pytest.raises(DataError, match="row 2: regression target 'high' is not a number"):
        encode_regression([1, "high"], "x")
