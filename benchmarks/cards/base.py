"""Shared pieces of the schema: the strict base model, name/version patterns, language codes,
and `FieldProblems` (cross-field findings that carry their own location)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
MAX_NAME = 100
"""Longest card or suite name: names become folder names under `--runs-dir` and `--data-dir` (255 bytes at most)."""
VERSION_PATTERN = r"^\d+\.\d+(\.\d+)?$"
SHA_PATTERN = re.compile(r"^[0-9a-f]{40}$")


class FieldProblems(ValueError):
    """Cross-field findings that know which field they belong to (so errors get the right line)."""

    def __init__(self, found: list[tuple[tuple, str]]):
        super().__init__("; ".join(msg for _, msg in found))
        self.found = found


class Strict(BaseModel):
    """Base of every schema model: unknown keys are rejected, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _language_code(code: str) -> str:
    """Check an ISO 639-3 code with an optional ISO 15924 script, e.g. `cat` or `ell-Grek`."""
    import pycountry

    match = re.fullmatch(r"([a-z]{3})(?:-([A-Z][a-z]{3}))?", code)
    if not match:
        raise ValueError(f"'{code}' is not an ISO 639-3 code with optional script (e.g. 'cat', 'ell-Grek', 'zho-Hans')")
    lang, script = match.groups()
    if pycountry.languages.get(alpha_3=lang) is None:
        raise ValueError(f"'{lang}' is not an ISO 639-3 language code")
    if script and pycountry.scripts.get(alpha_4=script) is None:
        raise ValueError(f"'{script}' is not an ISO 15924 script code")
    return code


LanguageCode = Annotated[str, AfterValidator(_language_code)]
