"""QbE runs under SUPERB's frozen-upstream protocol: its units share the encoder's `superb` row."""

from __future__ import annotations

from polyglue.report.leaderboard import build
from polyglue.runs.store import Store
from tests.fixtures.report_store import FixtureRuns, card_body, write_suite


def test_query_by_example_units_join_the_superb_row_of_their_encoder(tmp_path):
    cards = [
        card_body("sp-ks", task="keyword-spotting", modality="speech", layout=True, labels=["yes", "no"]),
        card_body("sp-qbe", task="query-by-example", modality="speech", layout=True, labels=None, metrics_=["mtwv"], main_metric="mtwv"),
    ]
    suite = {"name": "sp", "version": "1.0.0", "title": "Speech fixture", "cards": ["sp-ks", "sp-qbe"]}
    _, registry = write_suite(tmp_path / "cards", suite, cards)
    runs = FixtureRuns(tmp_path / "runs", registry, "sp")
    for label in ("fbank", "w2v"):
        runs.add("sp-ks", label, 0, metrics_={"test": {"accuracy": 0.5}, "validation": {"accuracy": 0.5}}, protocol="superb")
        runs.add("sp-qbe", label, 0, metrics_={"test": {"mtwv": 0.1}, "validation": {"mtwv": 0.1}}, protocol="qbe")
    runs.close()
    store = Store(tmp_path / "runs")
    board = build(registry.suite("sp").suite, {e.card.name: e.card for e in registry.suite_cards("sp")}, store.units())
    store.close()
    assert sorted((r.encoder, r.protocol) for r in board.rows) == [("fbank", "superb"), ("w2v", "superb")]
    for row in board.rows:
        assert row.cells["sp-ks"].mean == 50.0 and row.cells["sp-qbe"].mean == 0.1
