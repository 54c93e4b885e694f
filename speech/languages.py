"""Language codes of speech corpora: Kathbath folder names, ISO 639-1 keys, card codes.

Results use one key per language: ISO 639-1 where it exists (`hi`, `ta`, `or`), else the
ISO 639-3 code. Cards declare ISO 639-3 (`hin`, `ory`); `--languages` and manifests may use
either code or the English name (the Kathbath folder name).
"""

from __future__ import annotations

from dataclasses import dataclass

from polyglue.errors import UserError


@dataclass(frozen=True)
class KathbathLanguage:
    folder: str
    """Lower-case English name: the folder under the Kathbath root."""
    key: str
    """ISO 639-1 code, used in results (`wer@hi`)."""
    iso3: str
    """ISO 639-3 code, used in cards."""


KATHBATH = (
    KathbathLanguage("bengali", "bn", "ben"),
    KathbathLanguage("gujarati", "gu", "guj"),
    KathbathLanguage("hindi", "hi", "hin"),
    KathbathLanguage("kannada", "kn", "kan"),
    KathbathLanguage("malayalam", "ml", "mal"),
    KathbathLanguage("marathi", "mr", "mar"),
    KathbathLanguage("odia", "or", "ory"),
    KathbathLanguage("punjabi", "pa", "pan"),
    KathbathLanguage("sanskrit", "sa", "san"),
    KathbathLanguage("tamil", "ta", "tam"),
    KathbathLanguage("telugu", "te", "tel"),
    KathbathLanguage("urdu", "ur", "urd"),
)

_ALIASES: dict[str, str] = {}
for _lang in KATHBATH:
    for _alias in (_lang.folder, _lang.key, _lang.iso3):
        _ALIASES[_alias] = _lang.key
_ALIASES.update({"ori": "or", "oriya": "or", "panjabi": "pa", "bangla": "bn"})


def language_key(value: str) -> str:
    """The results key of a language given as ISO 639-1/639-3 code (script suffix allowed) or English name."""
    text = value.strip().lower().split("-")[0]
    if text in _ALIASES:
        return _ALIASES[text]
    import pycountry

    found = None
    if len(text) == 2:
        found = pycountry.languages.get(alpha_2=text)
    elif len(text) == 3:
        found = pycountry.languages.get(alpha_3=text)
    if found is None:
        try:
            found = pycountry.languages.lookup(text)
        except LookupError:
            return text
    return getattr(found, "alpha_2", None) or found.alpha_3


def kathbath_language(name: str) -> str | None:
    """The key of a folder named after a Kathbath language (`hindi`, `hi`, `hin`), else None."""
    return _ALIASES.get(name.lower())


def card_language_keys(codes: list[str]) -> list[str]:
    """Result keys of a card's `languages`, in card order, without repeats."""
    return list(dict.fromkeys(language_key(c) for c in codes))


def folder_names(key: str) -> set[str]:
    """Folder names that may hold `key` under a corpus root: the English name and the codes."""
    names = {key}
    for lang in KATHBATH:
        if lang.key == key:
            names |= {lang.folder, lang.iso3}
    return names


def select_languages(card_codes: list[str], requested: list[str] | None) -> list[str]:
    """The languages a unit evaluates: the card's, restricted by `--languages`.

    A requested language the card does not cover is left out (a suite mixes cards of
    different language sets); a code that names no language at all is an error, and so is
    a restriction that leaves nothing.
    """
    keys = card_language_keys(card_codes)
    if not requested:
        return keys
    wanted = [language_key(code) for code in requested]
    unknown = [code for code, key in zip(requested, wanted) if not _is_language(key)]
    if unknown:
        raise UserError(f"--languages {','.join(unknown)}: not a language code (use ISO 639-1, e.g. hi,ta)")
    chosen = [k for k in keys if k in wanted]
    if not chosen:
        raise UserError(f"--languages {','.join(requested)}: none of them is a language of this card (it has {','.join(keys)})")
    return chosen


def _is_language(key: str) -> bool:
    if key in _ALIASES.values():
        return True
    import pycountry

    return (pycountry.languages.get(alpha_2=key) if len(key) == 2 else pycountry.languages.get(alpha_3=key)) is not None
