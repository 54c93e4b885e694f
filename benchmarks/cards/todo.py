"""TODO markers: values a card stub leaves for its author to fill in.

`bench add-language` writes stubs whose unknown values are strings starting with `TODO`
(`title: "TODO: a short title"`), and column names too (`"TODO: label column": label`).
The loader reports each marker as `file:line: field: fill in <what the marker says>`
instead of the type or pattern error the placeholder would otherwise cause, and a card
with a marker left never loads — so a half-filled stub cannot be run by accident.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyglue.cards.problems import Problem, display_path, field_name
from polyglue.cards.yamlio import YamlDoc

MARKER = "TODO"


@dataclass(frozen=True)
class Todo:
    loc: tuple
    hint: str
    is_key: bool = False
    """A marker used as a mapping key (a column name still to fill in)."""

    @property
    def field(self) -> str:
        return field_name(self.loc[:-1] if self.is_key else self.loc)


def _hint(text: str) -> str:
    rest = text[len(MARKER):].lstrip(" :-–—").strip()
    return rest or "this value"


def find_todos(data, loc: tuple = ()) -> list[Todo]:
    """Every key or string value that starts with `TODO`, with its location in the document."""
    found: list[Todo] = []
    if isinstance(data, dict):
        for key, value in data.items():
            here = loc + (key,)
            if isinstance(key, str) and key.startswith(MARKER):
                found.append(Todo(here, _hint(key), is_key=True))
            found += find_todos(value, here)
    elif isinstance(data, list):
        for i, item in enumerate(data):
            found += find_todos(item, loc + (i,))
    elif isinstance(data, str) and data.startswith(MARKER):
        found.append(Todo(loc, _hint(data)))
    return found


def todo_problems(doc: YamlDoc, todos: list[Todo]) -> list[Problem]:
    file = display_path(doc.path)
    return [Problem(file, doc.line_of(t.loc), t.field, f"fill in {t.hint}") for t in todos]


def covered(problem: Problem, todos: list[Todo]) -> bool:
    """True when a schema error sits at (or inside) a TODO placeholder: the placeholder explains it."""
    for t in todos:
        if t.is_key:
            continue
        f = t.field
        if problem.field == f or problem.field.startswith(f + ".") or problem.field.startswith(f + "["):
            return True
    return False
