"""Findings about card files, rendered as `file:line: field: message`.

Turns pydantic validation errors into messages that say what was received, what is
allowed, and the closest allowed spelling.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ValidationError

from polyglue.cards.yamlio import YamlDoc


@dataclass(frozen=True)
class Problem:
    """One finding. Errors fail `bench validate`; warnings (e.g. an unpinned revision) do not."""

    file: str
    line: int
    field: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def render(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        where = f"{self.file}:{self.line}"
        return f"{where}: {prefix}{self.field + ': ' if self.field else ''}{self.message}"

    def as_dict(self) -> dict:
        return asdict(self)


def display_path(path: Path) -> str:
    """A path relative to the working directory when possible (shorter, clickable in editors)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def field_name(loc: tuple) -> str:
    """`("splits", "test", "labels")` -> `splits.test.labels`; `("labels", 2)` -> `labels[2]`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _suggest(value, options) -> str:
    close = difflib.get_close_matches(str(value), [str(o) for o in options], n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _model_at(model: type[BaseModel], loc: tuple):
    """The pydantic model class that owns the last key of `loc` (to list allowed keys)."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, int) or current is None:
            continue
        fields = getattr(current, "model_fields", {})
        if part not in fields:
            current = None
            continue
        current = _first_model(fields[part].annotation)
    return current


def _first_model(annotation):
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def _clean_loc(loc: tuple) -> tuple:
    """Drop pydantic's union-branch markers (`str`, `list[str]`, `function-after[...]`)."""
    return tuple(p for p in loc if isinstance(p, int) or not any(ch in p for ch in "[]") and p not in ("str", "list"))


def from_validation_error(exc: ValidationError, doc: YamlDoc, model: type[BaseModel]) -> list[Problem]:
    """One `Problem` per pydantic error, located via the YAML line map."""
    problems: list[Problem] = []
    file = display_path(doc.path)
    for err in exc.errors(include_url=False):
        loc = _clean_loc(tuple(err["loc"]))
        kind = err["type"]
        ctx = err.get("ctx") or {}
        inner = ctx.get("error")
        if inner is not None and hasattr(inner, "found"):
            for sub_loc, msg in inner.found:
                full = loc + tuple(sub_loc)
                problems.append(Problem(file, doc.line_of(full), field_name(full), msg))
            continue
        if kind == "extra_forbidden":
            owner = _model_at(model, loc)
            allowed = list(owner.model_fields) if owner else []
            msg = f"unknown field '{loc[-1]}'"
            if allowed:
                msg += f" (allowed: {', '.join(allowed)}){_suggest(loc[-1], allowed)}"
        elif kind == "missing":
            msg = "required field is missing"
        elif kind == "literal_error":
            expected = ctx.get("expected", "")
            options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",")]
            msg = f"got '{err.get('input')}'; allowed: {', '.join(options)}{_suggest(err.get('input'), options)}"
        elif kind == "string_pattern_mismatch":
            msg = f"'{err.get('input')}' does not match the pattern {ctx.get('pattern')}"
        elif kind == "value_error":
            msg = str(inner) if inner is not None else err["msg"]
        else:
            received = err.get("input")
            shown = repr(received) if not isinstance(received, (dict, list)) else type(received).__name__
            msg = f"{err['msg'][0].lower()}{err['msg'][1:]} (got {shown})"
        problems.append(Problem(file, doc.line_of(loc), field_name(loc), msg))
    return _dedupe(problems)


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        key = (p.line, p.field, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
