"""ASR transcripts: normalisation as IndicSUPERB does it, and per-language character vocabularies.

IndicSUPERB (`utilities/preprocess_asr.py`): remove ASCII punctuation and the danda, put
spaces around digit runs, apply the Indic NLP Library's normaliser for the language (not
for Urdu), strip trailing `॥ ৷ ।`. Languages without an Indic normaliser get Unicode NFC,
lower case and punctuation removal instead. Both references and hypotheses are scored in
this normalised form.
"""

from __future__ import annotations

import re
import string
import unicodedata
from functools import lru_cache

INDIC_NORMALISED = frozenset({"bn", "gu", "hi", "kn", "ml", "mr", "or", "pa", "sa", "ta", "te"})
"""Languages the Indic NLP normaliser handles here (Urdu is skipped, as IndicSUPERB does)."""
INDIC_SCRIPT_LANGUAGES = INDIC_NORMALISED | {"ur"}
WORD_BOUNDARY = " "

_ASCII_PUNCT = re.compile("[" + re.escape(string.punctuation) + "।]")
_DIGITS = re.compile(r"(\d+)")
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=None)
def _indic_normalizer(language: str):
    from indicnlp.normalize.indic_normalize import IndicNormalizerFactory

    return IndicNormalizerFactory().get_normalizer(language)


def normalize_transcript(text: str, language: str | None) -> str:
    """The form a transcript is trained and scored in (see the module docstring)."""
    if language in INDIC_SCRIPT_LANGUAGES:
        text = _ASCII_PUNCT.sub("", text)
        text = _DIGITS.sub(r" \1 ", text)
        if language in INDIC_NORMALISED:
            text = _indic_normalizer(language).normalize(text)
        text = text.strip().rstrip("॥৷। ")
    else:
        text = unicodedata.normalize("NFC", text).lower()
        text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
    return _SPACES.sub(" ", text).strip()


class CharVocab:
    """Characters seen in training transcripts; id 0 is the CTC blank, 1.. the characters.

    >>> v = CharVocab.build(["ab a", "b"])
    >>> v.encode("ab"), v.decode([2, 1, 3])
    ([2, 3], 'a b')
    """

    def __init__(self, chars: list[str]):
        self.chars = list(chars)
        self._ids = {c: i + 1 for i, c in enumerate(self.chars)}

    @classmethod
    def build(cls, transcripts: list[str]) -> "CharVocab":
        return cls(sorted({ch for text in transcripts for ch in text}))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Ids of the known characters of `text` (unseen characters are dropped)."""
        return [self._ids[c] for c in text if c in self._ids]

    def decode(self, ids: list[int]) -> str:
        return _SPACES.sub(" ", "".join(self.chars[i - 1] for i in ids if 0 < i <= len(self.chars))).strip()
