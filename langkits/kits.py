"""Language kits: the per-language text handling a card asks for by name.

A kit normalises input text before any encoder sees it (GREEK-BERT needs lower-cased,
accent-stripped input), splits text for the weight-free lexical baselines, and scores QA
answers exactly as the suite's official script does:

- `default`: SQuAD v1.1 `evaluate-v1.1.py` (lower, ASCII punctuation, English articles).
- `cat`: CLUB's `mlqa_evaluation_ca.py` (MLQA's script with Catalan articles; Unicode
  punctuation is removed *before* articles, so its `l'` alternative never fires — kept as is).
- `zho`: CMRC2018's evaluation (EM after removing its punctuation list; F1 over the longest
  common substring of a mixed segmentation: one segment per CJK character).

Pure Python, no torch.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter

_ASCII_PUNCT = frozenset(string.punctuation)
_WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
_CJK = re.compile(r"[\u4e00-\u9fa5]")


def strip_accents(text: str) -> str:
    """Remove combining marks after NFD decomposition (`ά` -> `α`), as GREEK-BERT's preprocessing does."""
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")


def is_unicode_punct(ch: str) -> bool:
    """Membership in MLQA's PUNCT set: any Unicode `P*` character or ASCII punctuation."""
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def token_f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    """Bag-of-tokens F1 (SQuAD v1.1 `f1_score` after normalisation)."""
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


class LangKit:
    """Default kit: Unicode NFC for inputs, SQuAD v1.1 rules for answers."""

    name = "default"
    token_unit = "word"
    """How lexical baselines split text: `word` (regex words) or `char` (CJK characters)."""
    max_answer_tokens = 30
    """Longest answer span (in encoder tokens) QA decoding considers (SQuAD's `max_answer_length`)."""
    articles: tuple[str, ...] = ("a", "an", "the")

    def normalize(self, text: str) -> str:
        """Text as the encoder should see it."""
        return unicodedata.normalize("NFC", text)

    # --------------------------------------------------------------- lexical units

    def word_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of words and punctuation marks (candidate answer units for baselines)."""
        return [m.span() for m in _WORD.finditer(text)]

    def lexical_tokens(self, text: str) -> list[str]:
        """Lower-cased words without punctuation, for overlap baselines."""
        return [text[s:e].lower() for s, e in self.word_spans(text) if any(ch.isalnum() for ch in text[s:e])]

    # --------------------------------------------------------------- QA answer scoring

    def _remove_punct(self, text: str) -> str:
        return "".join(ch for ch in text if ch not in _ASCII_PUNCT)

    def answer_normalize(self, text: str) -> str:
        """Lower, drop punctuation, then articles, collapse whitespace (`normalize_answer`)."""
        text = self._remove_punct(text.lower())
        if self.articles:
            text = re.sub(r"\b(" + "|".join(map(re.escape, self.articles)) + r")\b", " ", text)
        return " ".join(text.split())

    def answer_tokens(self, text: str) -> list[str]:
        """Tokens for answer F1 (whitespace tokens of the normalised answer)."""
        return self.answer_normalize(text).split()

    def answer_em(self, prediction: str, gold: str) -> float:
        return float(self.answer_normalize(prediction) == self.answer_normalize(gold))

    def answer_f1(self, prediction: str, gold: str) -> float:
        return token_f1(self.answer_tokens(prediction), self.answer_tokens(gold))


class CatalanKit(LangKit):
    """Catalan: CLUB's MLQA-ca answer rules (Unicode punctuation, Catalan articles)."""

    name = "cat"
    articles = ("un", "una", "uns", "unes", "el", "la", "els", "les", "l'")

    def _remove_punct(self, text: str) -> str:
        return "".join(ch for ch in text if not is_unicode_punct(ch))


class GreekBertKit(LangKit):
    """Greek as GREEK-BERT was trained and evaluated: lower-cased, accents stripped."""

    name = "ell-greekbert"
    articles = ()

    def normalize(self, text: str) -> str:
        return strip_accents(unicodedata.normalize("NFC", text).lower())


#: CMRC2018 evaluation's punctuation list (`sp_char`), matched character by character.
CMRC_PUNCT = frozenset(
    ["-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=", "，", "。", "：", "？", "！", "“", "”", "；", "’",
     "《", "》", "……", "·", "、", "「", "」", "（", "）", "－", "～", "『", "』"]
)


def _word_tokenizer():
    """nltk's word tokenizer class, the one `nltk.word_tokenize` applies (needs no downloaded data)."""
    global _NLTK
    if _NLTK is None:
        from nltk.tokenize import NLTKWordTokenizer

        _NLTK = NLTKWordTokenizer()
    return _NLTK


_NLTK = None


def split_non_cjk(run: str) -> list[str]:
    """A non-CJK run split as CMRC2018's `nltk.word_tokenize(temp_str)` splits it (`5km`, `U.S`, `.`,
    `do`, `n't`, quotes as `` and ''). `word_tokenize` first splits sentences with punkt, which
    needs a data download; without it a run holding a sentence end *inside* it ("ok. Then") keeps
    that inner period on its word. Answer spans almost never hold one."""
    return _word_tokenizer().tokenize(run)


class ChineseKit(LangKit):
    """Chinese: CMRC2018 answer rules and character-level lexical units.

    The official script splits non-CJK runs with `nltk.word_tokenize`; this kit uses nltk's
    word tokenizer class itself (`split_non_cjk`), so segmentations, and hence F1, agree
    with the official script on mixed strings (`5km`, `3.5kg`, `...`, `U.S.`, `don't`, quotes).
    """

    name = "zho"
    token_unit = "char"
    max_answer_tokens = 50
    articles = ()

    def word_spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in re.finditer(r"[A-Za-z0-9]+|\S", text)]

    @staticmethod
    def remove_punctuation(text: str) -> str:
        """CMRC2018 `remove_punctuation`: lower, strip, drop the `sp_char` characters."""
        return "".join(ch for ch in str(text).lower().strip() if ch not in CMRC_PUNCT)

    @staticmethod
    def mixed_segmentation(text: str, rm_punc: bool = True) -> list[str]:
        """CMRC2018 `mixed_segmentation`: one segment per CJK character or punctuation mark."""
        segments, run = [], ""
        for ch in str(text).lower().strip():
            if rm_punc and ch in CMRC_PUNCT:
                continue
            if _CJK.match(ch) or ch in CMRC_PUNCT:
                if run:
                    segments += split_non_cjk(run)
                    run = ""
                segments.append(ch)
            else:
                run += ch
        if run:
            segments += split_non_cjk(run)
        return segments

    def answer_normalize(self, text: str) -> str:
        return self.remove_punctuation(text)

    def answer_tokens(self, text: str) -> list[str]:
        return self.mixed_segmentation(text)

    def answer_em(self, prediction: str, gold: str) -> float:
        return float(self.remove_punctuation(prediction) == self.remove_punctuation(gold))

    def answer_f1(self, prediction: str, gold: str) -> float:
        """F1 of the longest common substring of the two segmentations (CMRC2018 `calc_f1_score`)."""
        pred, ref = self.mixed_segmentation(prediction), self.mixed_segmentation(gold)
        from difflib import SequenceMatcher

        match = SequenceMatcher(None, ref, pred, autojunk=False).find_longest_match(0, len(ref), 0, len(pred))
        if match.size == 0:
            return 0.0
        precision, recall = match.size / len(pred), match.size / len(ref)
        return 2 * precision * recall / (precision + recall)
