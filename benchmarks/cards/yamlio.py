"""Strict YAML reading that remembers where every key came from.

PyYAML silently keeps the last of two duplicate keys (lm-evaluation-harness#4077 lost
configuration that way); this loader rejects them. It also records the 1-based line of
every mapping key and sequence item so schema errors can be reported as `file:line`.

Hostile input is refused in bounded time and memory, before anything is expanded: a file
larger than `MAX_BYTES`, anything that is not a regular file (a FIFO or `/dev/zero` would
never end), nesting deeper than `MAX_DEPTH` (checked on the event stream, before the
recursive composer runs) and documents whose aliases expand to more than `MAX_NODES` nodes
("billion laughs"; recursive aliases too). Each is one `YamlSyntaxError` with a line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
import re

import os
import stat

import yaml

MAX_BYTES = 256 * 1024
"""Largest card or suite file read (256 KiB; every built-in card is under 8 KiB)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and sequences (cards need fewer than 10 levels)."""
MAX_NODES = 100_000
"""Most nodes a document may hold once its aliases are expanded."""


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


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH from the (iterative) event stream, before composing.

    libyaml's C parser is used when present (the same events, several times faster); a file it
    rejects is parsed again by the Python parser, whose messages and lines the rest of this
    module reports.
    """
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            _depth_of(text, fast)
            return
        except YamlSyntaxError:
            raise
        except yaml.YAMLError:
            pass
    _depth_of(text, _StrictLoader)


def _depth_of(text: str, loader) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlSyntaxError(event.start_mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_expansion(root) -> None:
    """Refuse documents whose aliases expand past MAX_NODES nodes or MAX_DEPTH levels (walked iteratively)."""
    stack = [(root, 1)]
    visited = 0
    while stack:
        node, depth = stack.pop()
        visited += 1
        if visited > MAX_NODES or depth > MAX_DEPTH:
            what = f"more than {MAX_NODES} nodes" if visited > MAX_NODES else f"more than {MAX_DEPTH} levels"
            raise YamlSyntaxError(node.start_mark.line + 1, f"aliases expand to {what} (an alias bomb or a recursive alias?)")
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                stack.append((key_node, depth + 1))
                stack.append((value_node, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)


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
    """Parse `text`; raise `YamlSyntaxError` with a line for any syntax error, duplicate key or exceeded bound."""
    if len(text) > MAX_BYTES:
        raise YamlSyntaxError(1, f"file is larger than {MAX_BYTES // 1024} KiB; cards and suites are small text files")
    loader = _StrictLoader(text)
    try:
        _check_depth(text)
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node)
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
    """Read and parse a YAML file (UTF-8): a regular file of at most MAX_BYTES, checked before reading."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise YamlSyntaxError(1, "not a regular file (a device, FIFO or socket); refused before reading")
    if info.st_size > MAX_BYTES:
        raise YamlSyntaxError(1, f"file is {info.st_size} bytes, larger than {MAX_BYTES // 1024} KiB; cards and suites are small text files")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlSyntaxError(1, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_yaml(text, Path(path))


def dump_yaml(data) -> str:
    """Serialise plain data as block-style YAML with keys in insertion order."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
