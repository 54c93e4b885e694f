"""Strict YAML reading that remembers where every key came from.

PyYAML silently keeps the last of two duplicate keys (lm-evaluation-harness#4077 lost
configuration that way); this loader rejects them. It also records the 1-based line of
every mapping key and sequence item so schema errors can be reported as `file:line`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
import re

import yaml

@dataclass
class YamlDoc:
    """A parsed YAML file: its data and the line of every key/item inside it."""

    path: Path
    data: object
    lines: dict[tuple, int] = field(default_factory=dict)

    def line_of(self, loc: tuple) -> int:
        """Line of `loc`, or of its nearest enclosing key when `loc` itself is absent."""
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return 1


class YamlSyntaxError(Exception):
    """Malformed YAML or a duplicate key; carries the 1-based line."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key '{key}' (first defined on line {seen[key]})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


# Keep YAML 1.1 surprises out of cards: "on"/"no"/"yes" stay strings, and 2e-5 is a float.
_StrictLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _record_lines(node, loc: tuple, lines: dict) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (loc + (key_node.value,)) if isinstance(key_node, yaml.ScalarNode) else loc
            lines.setdefault(key, key_node.start_mark.line + 1)
            _record_lines(value_node, key, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.setdefault(loc + (i,), item.start_mark.line + 1)
            _record_lines(item, loc + (i,), lines)


def parse_yaml(text: str, path: Path) -> YamlDoc:
    """Parse `text`; raise `YamlSyntaxError` with a line for any syntax error or duplicate key."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        message = exc.problem or str(exc)
        if "duplicate key" in message:
            raise YamlSyntaxError(exc.problem_mark.line + 1, f"YAML syntax error: {message}") from None
        # An unclosed bracket or quote is noticed lines later; the construct that is still open
        # (the context mark) is where the user has to look.
        problem = exc.problem_mark.line + 1 if exc.problem_mark else 1
        context = exc.context_mark.line + 1 if exc.context_mark else None
        if context is not None and context < problem:
            what = re.sub(r"^while (parsing|scanning) (an? )?", "", exc.context or "construct")
            raise YamlSyntaxError(context, f"YAML syntax error: {what} opened here is not closed ({message} on line {problem})") from None
        raise YamlSyntaxError(problem, f"YAML syntax error: {message}") from None
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked errors are rare
        raise YamlSyntaxError(1, f"YAML error: {exc}") from None
    finally:
        loader.dispose()
    lines: dict[tuple, int] = {}
    if node is not None:
        _record_lines(node, (), lines)
    return YamlDoc(path=path, data=data, lines=lines)


def read_yaml(path: Path) -> YamlDoc:
    """Read and parse a YAML file (UTF-8)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlSyntaxError(1, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_yaml(text, Path(path))


def dump_yaml(data) -> str:
    """Serialise plain data as block-style YAML with keys in insertion order."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
