"""ASR beam search with a KenLM word n-gram (flashlight's lexicon decoder, as fairseq's `--w2l-decoder kenlm`).

The LM is a tiny ARPA 2-gram written here over made-up words; the planted case is a CTC
output whose greedy path spells a word the LM does not know ("kovo") where the LM's "kavo"
is nearly as likely acoustically, so beam search with the LM must fix it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("flashlight.lib.text.decoder", reason="the `lm` extra (flashlight-text) is part of dev")

WORDS = {"kavo": -0.6, "simu": -0.6, "kovo": -3.5}  # log10 unigram probabilities
BIGRAMS = [("<s>", "kavo"), ("kavo", "simu"), ("simu", "</s>")]


def write_arpa(path, words=WORDS, bigrams=BIGRAMS):
    """An ARPA 2-gram file (KenLM's text format) over `words`."""
    unigrams = [("<s>", -99.0), ("</s>", -1.0), ("<unk>", -4.0), *words.items()]
    lines = ["\\data\\", f"ngram 1={len(unigrams)}", f"ngram 2={len(bigrams)}", "", "\\1-grams:"]
    lines += [f"{p}\t{w}\t-0.3" if w != "</s>" else f"{p}\t{w}" for w, p in unigrams]
    lines += ["", "\\2-grams:"] + [f"-0.1\t{a} {b}" for a, b in bigrams] + ["", "\\end\\", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


CHARS = sorted(set("kavo simu kovo"))  # CharVocab order: id = index + 1, blank = 0


def planted_log_probs(text: str, unsure: dict[int, tuple[str, str]]) -> np.ndarray:
    """CTC log-probabilities spelling `text` (a blank after every character); at the positions in
    `unsure` the first character wins narrowly over the second."""
    ids = {c: i + 1 for i, c in enumerate(CHARS)}
    rows = []
    for k, c in enumerate(text):
        p = np.full(len(CHARS) + 1, 1e-3)
        if k in unsure:
            first, second = unsure[k]
            p[ids[first]], p[ids[second]] = 0.55, 0.44
        else:
            p[ids[c]] = 1.0
        rows.append(p / p.sum())
        blank = np.full(len(CHARS) + 1, 1e-3)
        blank[0] = 1.0
        rows.append(blank / blank.sum())
    return np.log(np.array(rows, dtype=np.float32))


def greedy_text(log_probs: np.ndarray) -> str:
    from polyglue.speech.ctc_finetune import greedy_ids
    from polyglue.speech.text import CharVocab

    return CharVocab(CHARS).decode(greedy_ids(log_probs))


def test_beam_search_with_the_lm_fixes_a_word_that_greedy_gets_wrong(tmp_path):
    from polyglue.speech.lm import KenLMDecoder, KenLMModel

    lm = KenLMModel(write_arpa(tmp_path / "lm.arpa"))
    log_probs = planted_log_probs("kavo simu", {1: ("o", "a")})  # the acoustics prefer "kovo"
    assert greedy_text(log_probs) == "kovo simu"
    decoder = KenLMDecoder(CHARS, lm, lm_weight=2.0, word_score=0.0, beam_width=64)
    assert decoder.decode(log_probs) == "kavo simu"
    assert decoder.lexicon_size == 3 and decoder.skipped_words == 0
    # with the LM weighed at nothing the lexicon decoder follows the acoustics, as greedy does
    assert KenLMDecoder(CHARS, lm, lm_weight=0.0, word_score=0.0, beam_width=64).decode(log_probs) == "kovo simu"


def test_a_lexicon_file_restricts_the_words_and_unspellable_words_are_skipped(tmp_path):
    from polyglue.speech.lm import KenLMDecoder, KenLMModel

    lexicon = tmp_path / "lexicon.lst"
    lexicon.write_text("kavo\tk a v o |\nsimu\ts i m u |\nzeta\tz e t a |\n", encoding="utf-8")  # z, e: not in CHARS
    lm = KenLMModel(write_arpa(tmp_path / "lm.arpa"), lexicon)
    decoder = KenLMDecoder(CHARS, lm, lm_weight=0.0, word_score=0.0, beam_width=64)
    assert (decoder.lexicon_size, decoder.skipped_words) == (2, 1)
    # "kovo" is not in the lexicon: even with no LM weight the decoder can only spell lexicon words
    assert decoder.decode(planted_log_probs("kavo simu", {1: ("o", "a")})) == "kavo simu"


@pytest.mark.parametrize("content, message", [
    (None, "no such language-model file"),
    (b"just some words\nand more\n", "not an ARPA file"),
    (b"\x00\x01\x02garbage", "not an ARPA file"),
    (b"\\data\\\nngram 1=zz\nbroken\n", "KenLM cannot load it"),
])
def test_an_unreadable_lm_is_one_user_error_naming_the_file(tmp_path, content, message):
    from polyglue.errors import UserError
    from polyglue.speech.lm import KenLMModel

    path = tmp_path / "model.arpa"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=message) as err:
        KenLMModel(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def test_a_kenlm_binary_needs_a_lexicon(tmp_path):
    from polyglue.errors import UserError
    from polyglue.speech.lm import KENLM_BINARY_MAGIC, check_lm_file

    binary = tmp_path / "lm.binary"
    binary.write_bytes(KENLM_BINARY_MAGIC + b" format version 5\n\0\0")
    with pytest.raises(UserError, match="protocol.lm_lexicon"):
        check_lm_file(binary)
    lexicon = tmp_path / "lexicon.lst"
    lexicon.write_text("kavo\tk a v o |\n", encoding="utf-8")
    assert check_lm_file(binary, lexicon) == binary.resolve()


def test_asr_scores_report_greedy_and_lm_metrics_under_separate_names():
    from polyglue.speech.runners.common import asr_scores

    gold = ["kavo simu"]
    out = asr_scores(["wer", "cer"], gold, ["kovo simu"], ["kavo simu"])
    assert out["wer"] == pytest.approx(0.5) and out["wer_lm"] == 0.0 and out["cer_lm"] == 0.0
    assert math.isclose(out["cer"], 1 / 9)
    assert set(asr_scores(["wer", "cer"], gold, ["kavo simu"], None)) == {"wer", "cer"}
