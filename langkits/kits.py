"""Language kits: the per-language text handling a card asks for by name.

A kit normalises input text before any encoder sees it (GREEK-BERT needs lower-cased,
accent-stripped input) and defines how QA answers are normalised and split into tokens
for SQuAD-style scoring (Catalan strips articles as the MLQA-ca script does; Chinese
scores characters as CMRC2018 does). Pure Python, no torch.
"""

from __future__ import annotations

import re
import string
import unicodedata

_PUNCT = set(string.punctuation)


def strip_accents(text: str) -> str:
    """Remove combining marks after NFD decomposition (`ά` -> `α`), as GREEK-BERT's preprocessing does."""
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")


class LangKit:
    """Default kit: Unicode NFC for inputs, SQuAD v1.1 rules for answers (English articles)."""

    name = "default"
    articles: tuple[str, ...] = ("a", "an", "the")

    def normalize(self, text: str) -> str:
        """Text as the encoder should see it."""
        return unicodedata.normalize("NFC", text)

    # --------------------------------------------------------------- QA answer scoring

    def answer_normalize(self, text: str) -> str:
        """Lower-case, drop punctuation and articles, collapse whitespace (SQuAD v1.1 `normalize_answer`)."""
        text = "".join(ch for ch in text.lower() if ch not in _PUNCT and unicodedata.category(ch)[0] != "P")
        if self.articles:
            text = re.sub(r"\b(" + "|".join(map(re.escape, self.articles)) + r")\b", " ", text)
        return " ".join(text.split())

    def answer_tokens(self, text: str) -> list[str]:
        """Tokens for answer F1 (whitespace tokens of the normalised answer)."""
        return self.answer_normalize(text).split()


class CatalanKit(LangKit):
    """Catalan: answers lose the articles the MLQA-ca evaluation script removes."""

    name = "cat"
    articles = ("un", "una", "uns", "unes", "el", "la", "els", "les")

    def answer_normalize(self, text: str) -> str:
        # The elided article l' attaches to the next word ("l'estat"); strip it before punctuation goes.
        text = re.sub(r"\bl['’]", " ", text.lower())
        return super().answer_normalize(text)


class GreekBertKit(LangKit):
    """Greek as GREEK-BERT was trained and evaluated: lower-cased, accents stripped."""

    name = "ell-greekbert"
    articles = ()

    def normalize(self, text: str) -> str:
        return strip_accents(unicodedata.normalize("NFC", text).lower())


class ChineseKit(LangKit):
    """Chinese: answers are compared character by character (CMRC2018's mixed segmentation)."""

    name = "zho"
    articles = ()

    def answer_normalize(self, text: str) -> str:
        text = "".join(ch for ch in text.lower() if not unicodedata.category(ch).startswith("P") and ch not in _PUNCT)
        return "".join(text.split())

    def answer_tokens(self, text: str) -> list[str]:
        # CJK characters are tokens; runs of Latin letters or digits stay whole words.
        return re.findall(r"[a-z0-9]+|\S", self.answer_normalize(text))
