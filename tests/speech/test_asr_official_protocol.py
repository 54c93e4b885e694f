"""The ASR card names the paper's protocol (`official_protocol: finetune`): only those rows can be comparable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyglue.cards.registry import Registry

ASR_CARD = Path(__file__).resolve().parents[2] / "cards" / "indicsuperb" / "asr.yaml"


@pytest.fixture(scope="module")
def asr_card():
    return Registry.discover().card("indicsuperb-asr").card


def assessment(card, protocol: str | None, overrides: dict | None = None) -> dict:
    from polyglue.encoders import parse_encoder
    from polyglue.runs import protocol as protocols
    from polyglue.runs.comparability import assess

    encoder = parse_encoder("fbank")  # planning does not look at the upstream
    overrides = overrides or {}
    config = protocols.resolve(card, encoder, protocol, overrides)
    return assess(card, config, overrides, default_protocol=protocols.official_protocol(card, encoder))


def test_the_finetune_row_is_the_papers_protocol_and_the_superb_default_is_not(asr_card):
    assert asr_card.protocol.default == "superb" and asr_card.protocol.official_protocol == "finetune"
    paper = assessment(asr_card, "finetune")
    assert paper["comparable"] and paper["reasons"] == []
    superb = assessment(asr_card, None)  # the card's default
    assert not superb["comparable"] and not superb["debug"]
    assert superb["reasons"] == ["SUPERB-style protocol 'superb' (frozen upstream, trained head), not the paper's protocol 'finetune'"]


def test_a_language_model_keeps_the_paper_row_comparable(asr_card, tmp_path):
    from tests.speech.test_lm_decoding import write_arpa

    lm = write_arpa(tmp_path / "lm.arpa")
    result = assessment(asr_card, "finetune", {"lm_path": str(lm), "lm_weight": 2.0})
    assert result["comparable"], result["reasons"]  # LM settings only add wer_lm/cer_lm


def test_the_official_protocol_is_not_part_of_the_unit_settings(asr_card):
    from polyglue.encoders import parse_encoder
    from polyglue.runs.protocol import resolve

    assert "official_protocol" not in resolve(asr_card, parse_encoder("fbank"), None, {})


def test_a_card_naming_an_official_protocol_without_a_runner_fails_validation_at_its_line(cli, tmp_path):
    text = ASR_CARD.read_text(encoding="utf-8").replace("official_protocol: finetune", "official_protocol: qbe")
    card = tmp_path / "asr.yaml"
    card.write_text(text.replace("name: indicsuperb-asr", "name: my-asr"), encoding="utf-8")
    result = cli("validate", card, "--format", "json")
    assert result.code == 2
    problems = [p for p in json.loads(result.out)["problems"] if p["field"] == "protocol.official_protocol"]
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "official_protocol: qbe" in row)
    assert len(problems) == 1 and problems[0]["line"] == line and "no 'qbe' runner for asr tasks" in problems[0]["message"]
    # and a name that is no protocol at all is refused by the schema itself
    card.write_text(text.replace("official_protocol: qbe", "official_protocol: fairseq").replace("name: indicsuperb-asr", "name: my-asr"), encoding="utf-8")
    assert cli("validate", card).code == 2


def test_lm_settings_on_a_card_that_is_not_asr_are_a_problem():
    from polyglue.cards.schema import ProtocolDefaults

    problems = ProtocolDefaults(lm_path="lm.arpa").recipe_problems("speaker-id", ["accuracy"])
    assert [loc for loc, _ in problems] == [("protocol", "lm_path")]


def test_the_schema_lists_the_new_fields(cli):
    result = cli("schema", "card")
    assert result.code == 0
    protocol = json.loads(result.out)["$defs"]["ProtocolDefaults"]["properties"]
    assert {"official_protocol", "lm_path", "lm_lexicon", "lm_weight", "word_score", "beam_width"} <= set(protocol)


def test_the_card_vocabulary_of_protocols_equals_the_built_in_runner_table():
    from polyglue.cards import vocab
    from polyglue.runs.dispatch import RUNNERS

    assert set(RUNNERS) == {(task, p) for task, protocols in vocab.TASK_PROTOCOLS.items() for p in protocols}


def test_lm_settings_live_only_in_asr_units_that_have_an_lm(asr_card, tmp_path):
    from polyglue.encoders import parse_encoder
    from polyglue.errors import UserError
    from polyglue.runs.protocol import LM_DECODING, resolve
    from tests.speech.test_lm_decoding import write_arpa

    fbank = parse_encoder("fbank")
    assert not set(LM_DECODING) & set(resolve(asr_card, fbank, None, {}))  # keys of LM-less units are unchanged
    lm = write_arpa(tmp_path / "lm.arpa")
    with_lm = resolve(asr_card, fbank, None, {"lm_path": str(lm)})
    assert with_lm["lm_path"] == str(lm.resolve()) and with_lm["beam_width"] == 1024 and len(with_lm["lm_sha256"]) == 64
    asv = Registry.discover().card("indicsuperb-asv").card
    assert "lm_path" not in resolve(asv, fbank, None, {"lm_path": str(lm)})  # a suite-wide -o leaves other tasks alone
    with pytest.raises(UserError, match="give protocol.lm_path too"):
        resolve(asr_card, fbank, None, {"lm_weight": 2.0})
