"""GLUE-X cards: the authors' label mappings (flips included) read from the components' own formats,
pinned sources, SNLI's unlabelled rows (dropped by the card, refused without it), and the
`train_from` checks that refuse a card of another task or label set.

The end-to-end runs of every GLUE-X card (bow, fine-tuned and probed tiny BERT, through
`train_from`, with the transfer view) are in `test_suites_end_to_end.py` (the `gluex` suite).
"""

from __future__ import annotations

import json
import random
import re

import pyarrow.parquet as pq
import pytest

from polyglue.cards.registry import Registry
from polyglue.data.labels import LabelSpace
from polyglue.data.materialize import drop_unlabelled
from polyglue.data.readers import class_label_names
from tests.fixtures.text_corpus import KEYWORDS
from tests.fixtures.text_mirrors import GLUEX, gluex

REGISTRY = Registry.discover()
CARDS = REGISTRY.suite("gluex").suite.cards

#: GLUE-X's evaluation/utils_lp.py, as robustness_peft.md §2.2 records it: which OOD sets flip `1 − label`.
FLIPPED = {"gluex-rte-mrpc", "gluex-rte-qqp", "gluex-mrpc-rte", "gluex-qqp-rte"}


def test_every_gluex_card_is_pinned_licensed_and_trains_on_its_glue_card():
    assert set(CARDS) == set(GLUEX)
    for name in CARDS:
        card = REGISTRY.card(name).card
        source = REGISTRY.card(card.train_from).card
        assert source.source.hub.path == "nyu-mll/glue" and REGISTRY.card(card.train_from).path.parent.name == "glue"
        assert card.task == source.task and card.labels == source.labels
        assert card.source.hub.pinned and card.license and card.deviations
        assert "utils_lp.py" in card.recipe
        assert card.protocol.model_dump() == source.protocol.model_dump()  # the GLUE card's recipe: the same model


@pytest.mark.parametrize("name", CARDS)
def test_given_the_component_format_then_the_card_reads_every_row_as_gluex_labels_it(tmp_path, name):
    """The fixture plants GLUE-X's target class as the sentence keyword and stores the source's own
    index (flipped where GLUE-X flips); the card's `label_map` must recover the planted class."""
    card = REGISTRY.card(name).card
    gluex(tmp_path, name, random.Random(name), 40)
    [path] = list(tmp_path.glob("*.parquet"))
    table = pq.read_table(path)
    label_col = card.role_column("label")
    if card.splits.test.unlabelled == "drop":  # SNLI's label -1 rows have no gold label: the card drops them
        table, dropped = drop_unlabelled(table, label_col)
        assert dropped == 40 // 6
    text_col = [c for c, role in card.fields.items() if role in ("text", "text_pair")][-1]
    space = LabelSpace(card.labels, class_label_names(table, label_col), card.label_map)
    got = space.encode(table.column(label_col).to_pylist(), name)
    planted = [next(i for i, k in enumerate(KEYWORDS["eng"]) if re.search(rf"\b{k}\b", t)) for t in table.column(text_col).to_pylist()]
    assert list(got) == planted
    source_order = class_label_names(table, label_col) or GLUEX[name]["source"]  # SciTail: string labels, GLUE-X's order
    flips = [s for s, t in (card.label_map or {}).items() if card.labels.index(t) != source_order.index(s)]
    assert bool(flips) == (name in FLIPPED)


def test_given_unlabelled_rows_then_refuse_names_the_row_and_drop_removes_exactly_them(tmp_path):
    """SNLI's label -1 pairs: without `unlabelled: drop` the split is refused with a one-line
    error naming the row; with it, exactly the -1 rows go, before `--limit` samples the rest."""
    from polyglue.data.materialize import DataResolver
    from polyglue.errors import DataError
    from tests.fixtures.text_mirrors import write_mirror

    write_mirror(tmp_path, "gluex", ["gluex-mnli-snli"], n=24)
    entry = REGISTRY.card("gluex-mnli-snli")
    resolver = DataResolver(entry.card, entry.path, suite="gluex", data_dir=tmp_path, limit=16)
    split = resolver.split("test")
    assert split.dropped_unlabelled == 4 and len(split) == 16 and resolver.dropped_unlabelled == {"test": 4}
    assert min(split.column("label")) >= 0
    refusing = entry.card.model_copy(update={"splits": entry.card.splits.model_copy(update={"test": entry.card.splits.test.model_copy(update={"unlabelled": "refuse"})})})
    raw = DataResolver(refusing, entry.path, suite="gluex", data_dir=tmp_path).split("test")
    assert raw.dropped_unlabelled == 0 and len(raw) == 24
    with pytest.raises(DataError, match=r"row 6: label -1 marks a hidden label"):
        LabelSpace(refusing.labels, raw.source_label_names).encode(raw.column("label"), raw.origin)


def test_given_a_run_on_snli_then_the_unit_records_how_many_unlabelled_rows_it_dropped(cli, text_data, tmp_path):
    from tests.fixtures.store_rows import stored_units

    result = cli("run", "--suite", "gluex", "--tasks", "gluex-mnli-snli", "--model", "bow", "--data-dir", text_data, "--runs-dir", tmp_path, "-q")
    assert result.code == 0, result.err
    (unit,) = [u for u in stored_units(tmp_path) if u["card"] == "gluex-mnli-snli"]
    assert unit["extras"]["dropped_unlabelled"] == {"test": 4}  # every 6th of the 24 generated rows is -1


def test_given_unlabelled_drop_on_a_hidden_split_then_the_card_is_refused():
    from pydantic import ValidationError

    from polyglue.cards.schema import SplitSpec

    with pytest.raises(ValidationError, match="needs `labels: present`"):
        SplitSpec(name="test", labels="hidden", unlabelled="drop")
    assert "unlabelled" not in SplitSpec(name="test").model_dump()  # older cards hash as before


def _card_yaml(name: str, task: str, labels: list[str], extra: str = "") -> str:
    fields = "  text: text" if task == "single-classification" else "  text: text\n  pair: text_pair"
    return (f"name: {name}\nversion: 1.0.0\ntitle: t\nlanguages: [eng]\nmodality: text\ntask: {task}\n"
            f"source:\n  local:\n    files: {{train: data.jsonl, test: data.jsonl}}\n    format: jsonl\nsplits:\n  train: train\n  test: test\n"
            f"fields:\n{fields}\n  label: label\nlabels: [{', '.join(labels)}]\nmetrics: [accuracy]\nmain_metric: accuracy\n"
            f"license: cc0-1.0\ncitation: c\n{extra}")


@pytest.mark.parametrize(("task", "labels", "says"), [
    ("pair-classification", ["negative", "positive"], "is a pair-classification task, not single-classification"),
    ("single-classification", ["negative", "neutral", "positive"], "a model trained there cannot predict these"),
])
def test_given_a_train_from_card_of_another_task_or_label_set_then_validate_names_the_field_and_exits_2(cli, tmp_path, task, labels, says):
    (tmp_path / "source.yaml").write_text(_card_yaml("source", task, labels))
    (tmp_path / "shifted.yaml").write_text(_card_yaml("shifted", "single-classification", ["negative", "positive"], "train_from: source\n"))
    (tmp_path / "data.jsonl").write_text(json.dumps({"text": "a", "pair": "b", "label": "negative"}) + "\n")
    result = cli("validate", tmp_path / "shifted.yaml", tmp_path / "source.yaml", "--format", "json")
    assert result.code == 2
    (problem,) = [p for p in json.loads(result.out)["problems"] if p["severity"] == "error"]
    assert problem["field"] == "train_from" and says in problem["message"]


def test_given_a_label_map_onto_an_unknown_label_then_validate_names_the_field(cli, tmp_path):
    (tmp_path / "card.yaml").write_text(_card_yaml("mapped", "single-classification", ["negative", "positive"],
                                                   "label_map: {neg: negative, pos: upbeat}\n"))
    (tmp_path / "data.jsonl").write_text(json.dumps({"text": "a", "label": "neg"}) + "\n")
    result = cli("validate", tmp_path / "card.yaml", "--format", "json")
    assert result.code == 2
    (problem,) = json.loads(result.out)["problems"]
    assert problem["field"] == "label_map" and "upbeat" in problem["message"]
