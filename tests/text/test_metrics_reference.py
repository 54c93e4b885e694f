"""The metrics cards name agree with the reference implementations on randomised inputs.

References: scikit-learn and scipy for classification and correlation; a CoNLL-style
chunker written here for entity F1 (seqeval's default mode is conlleval-compatible); the
official SQuAD v1.1 script, CLUB's mlqa_evaluation_ca.py and the CMRC2018 evaluation
script, transcribed below function by function (CMRC2018's `nltk.word_tokenize` for
non-Chinese runs is replaced by the same regex the kit documents).
"""

from __future__ import annotations

import random
import re
import string
import sys
import unicodedata
from collections import Counter

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from polyglue import metrics
from polyglue.langkits.kits import CatalanKit, ChineseKit, LangKit

SEEDS = range(5)


# --------------------------------------------------------------------------- classification and regression


@pytest.mark.parametrize("seed", SEEDS)
def test_given_random_labels_then_classification_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    gold, pred = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    many_gold, many_pred = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    assert metrics.compute(["accuracy"], many_gold, many_pred)["accuracy"] == pytest.approx(skm.accuracy_score(many_gold, many_pred))
    assert metrics.compute(["f1"], gold, pred)["f1"] == pytest.approx(skm.f1_score(gold, pred))
    assert metrics.compute(["macro_f1"], many_gold, many_pred)["macro_f1"] == pytest.approx(skm.f1_score(many_gold, many_pred, average="macro"))
    assert metrics.compute(["mcc"], many_gold, many_pred)["mcc"] == pytest.approx(skm.matthews_corrcoef(many_gold, many_pred))


@pytest.mark.parametrize("seed", SEEDS)
def test_given_random_scores_then_correlations_match_scipy_and_glue_combined_score(seed):
    rng = np.random.default_rng(seed)
    gold = rng.uniform(0, 5, 150)
    pred = gold + rng.normal(0, 1.5, 150)
    got = metrics.compute(["pearson", "spearman", "pearson_spearman_mean"], gold, pred)
    pearson, spearman = stats.pearsonr(gold, pred)[0], stats.spearmanr(gold, pred)[0]
    assert got["pearson"] == pytest.approx(pearson)
    assert got["spearman"] == pytest.approx(spearman)
    # GLUE's stsb metric / CLUB's combined_score: np.mean of the two
    assert got["pearson_spearman_mean"] == pytest.approx(np.mean([pearson, spearman]))


# --------------------------------------------------------------------------- token classification


def conll_chunks(tags: list[str]) -> set[tuple[int, int, str]]:
    """Chunks the way conlleval reads IOB2: a chunk starts at B-X, or at I-X after anything but X."""
    chunks, start, kind = set(), None, None
    for i, tag in enumerate(tags + ["O"]):
        prefix, _, label = tag.partition("-")
        ends = kind is not None and (tag == "O" or prefix == "B" or label != kind)
        if ends:
            chunks.add((start, i, kind))
            start, kind = None, None
        if tag != "O" and (prefix == "B" or kind is None):
            start, kind = i, label
    return chunks


def random_iob(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]) for _ in range(n)]


@pytest.mark.parametrize("seed", SEEDS)
def test_given_random_iob_sequences_then_seqeval_f1_matches_a_conll_chunker(seed):
    rng = random.Random(seed)
    gold = [random_iob(rng, rng.randint(1, 15)) for _ in range(60)]
    pred = [[t if rng.random() < 0.7 else rng.choice(["O", "B-PER", "I-LOC", "B-ORG"]) for t in s] for s in gold]
    g = {(k,) + c for k, s in enumerate(gold) for c in conll_chunks(s)}
    p = {(k,) + c for k, s in enumerate(pred) for c in conll_chunks(s)}
    tp = len(g & p)
    expected = 0.0 if tp == 0 else 2 * tp / (len(g) + len(p))
    assert metrics.compute(["seqeval_f1"], gold, pred)["seqeval_f1"] == pytest.approx(expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_given_random_tags_then_token_accuracy_matches_sklearn_on_flattened_tags(seed):
    rng = random.Random(seed)
    gold = [[rng.choice(["NOUN", "VERB", "DET"]) for _ in range(rng.randint(1, 12))] for _ in range(40)]
    pred = [[rng.choice(["NOUN", "VERB", "DET"]) for _ in s] for s in gold]
    flat = lambda seqs: [t for s in seqs for t in s]  # noqa: E731
    assert metrics.compute(["token_accuracy"], gold, pred)["token_accuracy"] == pytest.approx(skm.accuracy_score(flat(gold), flat(pred)))
    assert metrics.compute(["macro_f1"], gold, pred)["macro_f1"] == pytest.approx(skm.f1_score(flat(gold), flat(pred), average="macro"))


# --------------------------------------------------------------------------- QA: official scripts, transcribed


def squad_v11_normalize(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def squad_v11_f1(prediction, ground_truth):
    prediction_tokens = squad_v11_normalize(prediction).split()
    ground_truth_tokens = squad_v11_normalize(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


MLQA_PUNCT = {chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P")}.union(string.punctuation)


def mlqa_ca_normalize(s):
    def remove_articles(text):
        return re.sub(r"\b(un|una|uns|unes|el|la|els|les|l\')\b", " ", text)

    def white_space_fix(text):
        return " ".join([t for t in text.split() if t.strip() != ""])

    def remove_punc(text):
        return "".join(ch for ch in text if ch not in MLQA_PUNCT)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def mlqa_ca_f1(prediction, ground_truth):
    p, g = mlqa_ca_normalize(prediction).split(), mlqa_ca_normalize(ground_truth).split()
    same = sum((Counter(p) & Counter(g)).values())
    if same == 0:
        return 0
    precision, recall = same / len(p), same / len(g)
    return 2 * precision * recall / (precision + recall)


CMRC_SP_CHAR = ["-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=", "，", "。", "：", "？", "！", "“", "”", "；", "’", "《", "》", "……", "·", "、", "「", "」", "（", "）", "－", "～", "『", "』"]


def cmrc_word_tokenize(text):
    # The official script calls nltk.word_tokenize, i.e. punkt sentences, then this class on each;
    # the answers here hold no inner sentence end, so the class alone is what it computes.
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer().tokenize(text)


def cmrc_mixed_segmentation(in_str, rm_punc=False):
    in_str = str(in_str).lower().strip()
    segs_out, temp_str = [], ""
    for char in in_str:
        if rm_punc and char in CMRC_SP_CHAR:
            continue
        if re.search(r"[\u4e00-\u9fa5]", char) or char in CMRC_SP_CHAR:
            if temp_str != "":
                segs_out.extend(cmrc_word_tokenize(temp_str))
                temp_str = ""
            segs_out.append(char)
        else:
            temp_str += char
    if temp_str != "":
        segs_out.extend(cmrc_word_tokenize(temp_str))
    return segs_out


def cmrc_remove_punctuation(in_str):
    return "".join(ch for ch in str(in_str).lower().strip() if ch not in CMRC_SP_CHAR)


def cmrc_find_lcs(s1, s2):
    m = [[0 for _ in range(len(s2) + 1)] for _ in range(len(s1) + 1)]
    mmax, p = 0, 0
    for i in range(len(s1)):
        for j in range(len(s2)):
            if s1[i] == s2[j]:
                m[i + 1][j + 1] = m[i][j] + 1
                if m[i + 1][j + 1] > mmax:
                    mmax, p = m[i + 1][j + 1], i + 1
    return s1[p - mmax : p], mmax


def cmrc_f1(answers, prediction):
    f1_scores = []
    for ans in answers:
        ans_segs = cmrc_mixed_segmentation(ans, rm_punc=True)
        prediction_segs = cmrc_mixed_segmentation(prediction, rm_punc=True)
        _, lcs_len = cmrc_find_lcs(ans_segs, prediction_segs)
        if lcs_len == 0:
            f1_scores.append(0)
            continue
        precision, recall = lcs_len / len(prediction_segs), lcs_len / len(ans_segs)
        f1_scores.append((2 * precision * recall) / (precision + recall))
    return max(f1_scores)


def cmrc_em(answers, prediction):
    return float(any(cmrc_remove_punctuation(a) == cmrc_remove_punctuation(prediction) for a in answers))


def random_answer(rng: random.Random, vocab: list[str], joiner: str = " ") -> str:
    return joiner.join(rng.choice(vocab) for _ in range(rng.randint(1, 6)))


EN_VOCAB = ["The", "a", "an", "Nile", "river", "1,200", "km", "(approx.)", "U.S.", "don't", "the", "-", "Anne's", "café", "“quoted”"]
CA_VOCAB = ["el", "La", "l'estat", "l’Ebre", "els", "Les", "riu", "Barcelona", "«Catalunya»", "d'aquí", "un", "unes", "1.200", "—", "any", "gener,"]
ZH_VOCAB = ["北京", "大学", "，", "。", "“", "”", "1995", "年", "abc", "Def", "（", "）", "、", "78.1", "·", "u.s.", "-", "工商协进会"]
# Mixed strings on which a regex and nltk's tokenizer disagree (the audit's list).
ZH_ADVERSARIAL = ZH_VOCAB + ["5km", "3.5kg", "...", "U.S.", "No.1", "don't", '"', "5'10\"", " it's ", "e.g.", "$1,000"]


def _qa_cases(seed: int, vocab: list[str], joiner: str):
    rng = random.Random(seed)
    golds = [[random_answer(rng, vocab, joiner) for _ in range(rng.randint(1, 3))] for _ in range(80)]
    preds = [rng.choice(g) if rng.random() < 0.3 else random_answer(rng, vocab, joiner) for g in golds]
    return golds, preds


@pytest.mark.parametrize("seed", SEEDS)
def test_given_random_answers_then_default_kit_matches_the_squad_v11_script(seed):
    golds, preds = _qa_cases(seed, EN_VOCAB, " ")
    got = metrics.compute(["squad_em", "squad_f1"], golds, preds, kit=LangKit())
    em = np.mean([max(float(squad_v11_normalize(p) == squad_v11_normalize(g)) for g in gs) for gs, p in zip(golds, preds)])
    f1 = np.mean([max(squad_v11_f1(p, g) for g in gs) for gs, p in zip(golds, preds)])
    assert got == pytest.approx({"squad_em": em, "squad_f1": f1})


@pytest.mark.parametrize("seed", SEEDS)
def test_given_random_catalan_answers_then_cat_kit_matches_club_mlqa_ca_script(seed):
    golds, preds = _qa_cases(seed, CA_VOCAB, " ")
    got = metrics.compute(["squad_em", "squad_f1"], golds, preds, kit=CatalanKit())
    em = np.mean([max(float(mlqa_ca_normalize(p) == mlqa_ca_normalize(g)) for g in gs) for gs, p in zip(golds, preds)])
    f1 = np.mean([max(mlqa_ca_f1(p, g) for g in gs) for gs, p in zip(golds, preds)])
    assert got == pytest.approx({"squad_em": em, "squad_f1": f1})


@pytest.mark.parametrize("seed", SEEDS)
def test_given_random_chinese_answers_then_zho_kit_matches_the_cmrc2018_script(seed):
    golds, preds = _qa_cases(seed, ZH_ADVERSARIAL, "")
    got = metrics.compute(["squad_em", "squad_f1"], golds, preds, kit=ChineseKit())
    em = np.mean([cmrc_em(gs, p) for gs, p in zip(golds, preds)])
    f1 = np.mean([cmrc_f1(gs, p) for gs, p in zip(golds, preds)])
    assert got == pytest.approx({"squad_em": em, "squad_f1": f1})


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("5km长", ["5km", "长"]),
        ("重3.5kg", ["重", "3.5kg"]),
        ("等...", ["等", "..."]),
        ("美国U.S.", ["美", "国", "u.s", "."]),
        ("No.1选手", ["no.1", "选", "手"]),
        ("说don't", ["说", "do", "n't"]),
        ('他"ok"', ["他", "``", "ok", "''"]),
        ("高5'10\"", ["高", "5'10", "''"]),
    ],
)
def test_given_mixed_strings_then_zho_segments_as_nltk_word_tokenizer(text, segments):
    # Each of these split differently under the regex the kit used before (e.g. 5 / km, no / . / 1, don / ' / t).
    assert ChineseKit.mixed_segmentation(text) == segments


def test_catalan_articles_and_elision_follow_the_script_not_intuition():
    kit = CatalanKit()
    # Punctuation goes first, so "l'estat" becomes "lestat" and the l' alternative never fires (as in CLUB's script).
    assert kit.answer_normalize("L'Estat, els «pobles»!") == "lestat pobles"
    assert kit.answer_em("la Generalitat", "Generalitat") == 1.0


def test_cmrc_f1_is_the_longest_common_substring_not_a_bag_of_characters():
    kit = ChineseKit()
    # Same characters, different order: bag-of-characters F1 would be 1.0; the longest common substring is 2 of 4.
    assert kit.answer_f1("大学北京", "北京大学") == pytest.approx(0.5)
    assert kit.answer_em("北京，大学。", "北京大学") == 1.0
