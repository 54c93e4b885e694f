"""`--model` specs, encoder identity and unit keys."""

from __future__ import annotations

import pytest

from polyglue.encoders import parse_encoder
from polyglue.errors import UserError
from polyglue.runs.units import Unit


def test_specs_parse_with_optional_labels_and_revisions():
    assert parse_encoder("bow").identity() == "bow@v2"  # weight-free kinds carry their feature version
    spec = parse_encoder("mbert=hf:bert-base-multilingual-cased@abc123")
    assert (spec.label, spec.kind, spec.target, spec.revision) == ("mbert", "hf", "bert-base-multilingual-cased", "abc123")
    assert spec.identity() == "hf:bert-base-multilingual-cased@abc123"
    with pytest.raises(UserError, match="unknown model"):
        parse_encoder("word2vec")
    with pytest.raises(UserError, match="takes no argument"):
        parse_encoder("bow:x")


def test_a_local_model_is_identified_by_its_weights_not_its_name(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text('{"model_type": "bert"}')
        (tmp_path / name / "model.safetensors").write_bytes(b"weights-1")
    a, b = parse_encoder(f"hf:{tmp_path / 'a'}"), parse_encoder(f"hf:{tmp_path / 'b'}")
    assert a.identity() == b.identity() and a.modalities() == {"text"}
    (tmp_path / "b" / "model.safetensors").write_bytes(b"weights-2")
    assert parse_encoder(f"hf:{tmp_path / 'b'}").identity() != a.identity()


def test_a_wav2vec2_folder_is_a_speech_encoder(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "wav2vec2"}')
    assert parse_encoder(f"hf:{tmp_path}").modalities() == {"speech"}


def test_unit_keys_change_with_what_determines_results_only():
    base = dict(suite="s", suite_version="1.0", card="c", card_version="1.0", card_hash="h", dataset_revision="r",
                encoder_identity="bow", protocol="probe", protocol_hash="p", seed=0)
    key = Unit(**base).key
    assert Unit(**base).key == key
    for field, value in [("seed", 1), ("card_hash", "h2"), ("dataset_revision", "r2"), ("encoder_identity", "x"), ("protocol_hash", "q")]:
        assert Unit(**{**base, field: value}).key != key


def test_an_optional_protocol_field_added_later_leaves_unit_keys_unchanged_until_it_is_set():
    """`UNSET_OMITTED` fields are not in a card's dump (so not in its hash or the protocol hash) while
    unset: adding such a field must not orphan every stored unit; setting one does change the key."""
    from polyglue.cards.schema import UNSET_OMITTED, ProtocolDefaults

    assert UNSET_OMITTED and all(name in ProtocolDefaults.model_fields for name in UNSET_OMITTED)
    dumped = ProtocolDefaults().model_dump()
    assert not set(UNSET_OMITTED) & set(dumped)
    assert ProtocolDefaults(head_dim=64).model_dump()["head_dim"] == 64
    assert ProtocolDefaults.model_validate(dumped) == ProtocolDefaults()  # the dump reads back to the same settings
