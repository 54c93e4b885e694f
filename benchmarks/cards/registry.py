"""Find, load and cross-check cards and suites from the built-in `cards/` and user directories.

A broken file never vanishes: every problem is kept (with file:line) and surfaced by
`bench validate`, `bench list` and any command that needs the broken card.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from polyglue.cards import vocab
from polyglue.cards.problems import Problem, display_path, from_validation_error
from polyglue.cards.schema import Card, Suite
from polyglue.cards.todo import covered, find_todos, todo_problems
from polyglue.cards.yamlio import YamlDoc, YamlSyntaxError, read_yaml
from polyglue.errors import CardError, UserError

SUITE_FILE = "suite.yaml"
ENV_CARDS = "POLYGLUE_CARDS"


@dataclass(frozen=True)
class CardEntry:
    card: Card
    path: Path
    doc: YamlDoc

    def line(self, *loc) -> int:
        return self.doc.line_of(loc)


@dataclass(frozen=True)
class SuiteEntry:
    suite: Suite
    path: Path
    doc: YamlDoc

    def line(self, *loc) -> int:
        return self.doc.line_of(loc)


def builtin_cards_dir() -> Path:
    """The `cards/` tree shipped with polyglue, `polyglue.builtin_cards` (a package, so it
    works installed or cloned; the unique name means a user's own `cards/` folder cannot shadow it)."""
    return Path(str(resources.files("polyglue.builtin_cards")))


def card_dirs(extra: list[Path] | tuple = (), *, builtin: bool = True) -> list[Path]:
    """Directories searched for cards: built-in, then `--cards`, then `POLYGLUE_CARDS`."""
    dirs = [builtin_cards_dir()] if builtin else []
    dirs += [Path(d) for d in extra]
    dirs += [Path(d) for d in os.environ.get(ENV_CARDS, "").split(os.pathsep) if d]
    out: list[Path] = []
    for d in dirs:
        if d.resolve() not in [o.resolve() for o in out]:
            out.append(d)
    return out


def load_file(path: Path) -> tuple[Card | Suite | None, YamlDoc | None, list[Problem]]:
    """Load one card or suite file; return the model (or None) and every problem found."""
    path = Path(path)
    model_cls = Suite if path.name == SUITE_FILE else Card
    try:
        doc = read_yaml(path)
    except YamlSyntaxError as exc:
        return None, None, [Problem(display_path(path), exc.line, "", exc.message)]
    except OSError as exc:
        return None, None, [Problem(display_path(path), 1, "", f"cannot read file: {exc.strerror}")]
    if not isinstance(doc.data, dict):
        kind = "empty file" if doc.data is None else f"a YAML {type(doc.data).__name__}"
        return None, doc, [Problem(display_path(path), 1, "", f"expected a mapping of fields, got {kind}")]
    todos = find_todos(doc.data)
    try:
        model = model_cls.model_validate(doc.data)
    except ValidationError as exc:
        schema_problems = [p for p in from_validation_error(exc, doc, model_cls) if not covered(p, todos)]
        return None, doc, todo_problems(doc, todos) + schema_problems
    if todos:
        return None, doc, todo_problems(doc, todos)
    return model, doc, _warnings(model, doc)


def _warnings(model, doc: YamlDoc) -> list[Problem]:
    out = []
    if isinstance(model, Card) and model.source.hub is not None and not model.source.hub.pinned:
        got = model.source.hub.revision or "none"
        out.append(
            Problem(
                display_path(doc.path),
                doc.line_of(("source", "hub", "revision")),
                "source.hub.revision",
                f"unpinned (got {got}); pin a 40-hex commit SHA, or let `bench fetch` record the resolved one",
                "warning",
            )
        )
    return out


def _yaml_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*.yaml") if not any(part.startswith(".") for part in p.parts))


@dataclass
class Registry:
    """Every card and suite found, plus every problem met on the way."""

    cards: dict[str, CardEntry] = field(default_factory=dict)
    suites: dict[str, SuiteEntry] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    broken: dict[str, Path] = field(default_factory=dict)
    """Names declared by files that failed to load -> the file (so a suite says why, not 'unknown')."""
    declared: dict[str, set[Path]] = field(default_factory=dict)
    """Every `name:` seen -> the (resolved) files declaring it, broken files and duplicates included."""

    @classmethod
    def discover(cls, extra: list[Path] | tuple = (), *, builtin: bool = True) -> "Registry":
        reg = cls()
        seen: set[Path] = set()  # a file under two given roots (`--cards cards cards/x`) is read once
        for root in card_dirs(extra, builtin=builtin):
            if not root.exists():
                reg.problems.append(Problem(display_path(root), 1, "", "card directory does not exist"))
                continue
            for path in _yaml_files(root):
                if path.resolve() not in seen:
                    seen.add(path.resolve())
                    reg.add_file(path)
        reg.problems += reg.cross_check()
        return reg

    def add_file(self, path: Path) -> None:
        model, doc, problems = load_file(path)
        self.problems += problems
        name = doc.data.get("name") if doc is not None and isinstance(doc.data, dict) else None
        if isinstance(name, str):
            self.declared.setdefault(name, set()).add(Path(path).resolve())
        if model is None or doc is None:
            if isinstance(name, str):
                self.broken.setdefault(name, Path(path))
            return
        kind = "suite" if isinstance(model, Suite) else "card"
        other: SuiteEntry | CardEntry | None = self.suites.get(model.name) if isinstance(model, Suite) else self.cards.get(model.name)
        if other is not None:
            if other.path.resolve() == Path(path).resolve():
                return
            self.problems.append(
                Problem(
                    display_path(path),
                    doc.line_of(("name",)),
                    "name",
                    f"{kind} '{model.name}' is also defined in {display_path(other.path)}:{other.line('name')}",
                )
            )
            return
        if isinstance(model, Suite):
            self.suites[model.name] = SuiteEntry(model, Path(path), doc)
        else:
            self.cards[model.name] = CardEntry(model, Path(path), doc)

    # ------------------------------------------------------------------ cross-file checks

    def cross_check(self) -> list[Problem]:
        """Checks that need more than one file: suite members, aggregates, references, transfer."""
        out: list[Problem] = []
        for entry in self.cards.values():
            card, f = entry.card, display_path(entry.path)
            out += _check_langkit(entry)
            if card.train_from is not None:
                src = self.cards.get(card.train_from)
                if src is None:
                    out.append(Problem(f, entry.line("train_from"), "train_from", f"unknown card '{card.train_from}'{_close(card.train_from, self.cards)}"))
                elif src.card.task != card.task:
                    out.append(Problem(f, entry.line("train_from"), "train_from", f"card '{card.train_from}' is a {src.card.task} task, not {card.task}"))
                elif src.card.labels != card.labels and not (card.task == "token-classification" and set(card.labels or []) <= set(src.card.labels or [])):
                    # a head trained on the other card predicts its labels: zero-shot scoring needs the same set
                    # (the same order too for index-labelled data; tag sets may be a subset)
                    out.append(Problem(
                        f, entry.line("train_from"), "train_from",
                        f"card '{card.train_from}' has labels {src.card.labels}, this card {card.labels}: a model trained there cannot predict these",
                    ))
        for suite_entry in self.suites.values():
            out += self._check_suite(suite_entry)
        return list(dict.fromkeys(out))  # a shared kit file's problems once, not once per card

    def _check_suite(self, entry: SuiteEntry) -> list[Problem]:
        suite, f, out = entry.suite, display_path(entry.path), []
        for i, name in enumerate(suite.cards):
            if name not in self.cards:
                if name in self.broken:
                    message = f"card '{name}' does not load; fix {display_path(self.broken[name])} first"
                else:
                    message = f"unknown card '{name}'{_close(name, self.cards)}"
                out.append(Problem(f, entry.line("cards", i), f"cards[{i}]", message))
        if suite.aggregate and suite.aggregate.components:
            for i, comp in enumerate(suite.aggregate.components):
                loc = ("aggregate", "components", i)
                if comp.card not in suite.cards:
                    out.append(Problem(f, entry.line(*loc, "card"), f"aggregate.components[{i}].card", f"'{comp.card}' is not a card of this suite"))
                    continue
                card_entry = self.cards.get(comp.card)
                if card_entry is None:
                    continue
                card = card_entry.card
                for m in comp.metrics or []:
                    if m not in card.metrics:
                        out.append(Problem(f, entry.line(*loc, "metrics"), f"aggregate.components[{i}].metrics", f"card '{card.name}' does not compute '{m}' (it has {', '.join(card.metrics)})"))
                for s in comp.splits or []:
                    if s not in card.splits.scored_roles():
                        out.append(Problem(f, entry.line(*loc, "splits"), f"aggregate.components[{i}].splits", f"card '{card.name}' has no scored split '{s}' (scored: {', '.join(card.splits.scored_roles())})"))
        for i, ref in enumerate(suite.references):
            for key in ref.scores:
                card_name, _, metric = key.partition(".")
                ref_loc = ("references", i, "scores", key)
                if card_name not in suite.cards:
                    out.append(Problem(f, entry.line(*ref_loc), f"references[{i}].scores", f"'{card_name}' is not a card of this suite"))
                elif metric and metric not in vocab.METRICS:
                    out.append(Problem(f, entry.line(*ref_loc), f"references[{i}].scores", f"unknown metric '{metric}'"))
        files = suite.submission.files if suite.submission else []
        for i, item in enumerate(files):
            loc, where = ("submission", "files", i), f"submission.files[{i}]"
            card_entry = self.cards.get(item.card)
            if item.card not in suite.cards:
                out.append(Problem(f, entry.line(*loc, "card"), f"{where}.card", f"'{item.card}' is not a card of this suite"))
            elif card_entry is not None:
                spec = card_entry.card.splits.roles().get(item.split)
                if spec is None or spec.labels != "hidden":
                    hidden = [r for r, sp in card_entry.card.splits.roles().items() if sp.labels == "hidden"]
                    out.append(Problem(f, entry.line(*loc, "split"), f"{where}.split", f"card '{item.card}' has no hidden-label split '{item.split}' (hidden: {', '.join(hidden) or 'none'})"))
            if [x.file for x in files].count(item.file) > 1:
                out.append(Problem(f, entry.line(*loc, "file"), f"{where}.file", f"file '{item.file}' is listed twice"))
        return out

    # ------------------------------------------------------------------ lookups

    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def card(self, name: str) -> CardEntry:
        if name in self.cards:
            return self.cards[name]
        self._raise_if_broken(name)
        raise UserError(f"unknown card '{name}'{_close(name, self.cards)}; `bench list cards` shows them all")

    def suite(self, name: str) -> SuiteEntry:
        if name in self.suites:
            return self.suites[name]
        self._raise_if_broken(name)
        raise UserError(f"unknown suite '{name}'{_close(name, self.suites)}; `bench list suites` shows them all")

    def suite_cards(self, name: str) -> list[CardEntry]:
        entry = self.suite(name)
        broken_members = [self.broken[c] for c in entry.suite.cards if c not in self.cards and c in self.broken]
        if broken_members:
            # Name the broken card's own file:line, not only the suite line that refers to it.
            files = {display_path(path) for path in broken_members}
            raise CardError([p for p in self.errors() if p.file in files] or [p for p in self.errors() if p.file == display_path(entry.path)])
        broken = [p for p in self.errors() if p.file == display_path(entry.path)]
        if broken:
            raise CardError(broken)
        return [self.card(c) for c in entry.suite.cards]

    def _raise_if_broken(self, name: str) -> None:
        """A name that failed to load is reported with its file:line problems, not as unknown."""
        stems = {Path(p.file).stem: p for p in self.errors()}
        hits = [p for p in self.errors() if Path(p.file).stem == name or Path(p.file).parent.name == name]
        if hits or name in stems:
            raise CardError(hits or [stems[name]])


def _check_langkit(entry: CardEntry) -> list[Problem]:
    """The card's kit must be built in, or a user kit file next to the card (checked without importing it)."""
    from polyglue.cards.kitnames import USER_KIT_DIR, check_kit_file, kit_names, user_kits_near  # pure; no torch

    name, f = entry.card.langkit, display_path(entry.path)
    if name in kit_names():
        return []
    near = user_kits_near(entry.path)
    if name not in near:
        known = sorted(kit_names()) + sorted(near)
        return [
            Problem(
                f,
                entry.line("langkit"),
                "langkit",
                f"unknown language kit '{name}' (known: {', '.join(known)}){_close(name, known)}; "
                f"a new kit goes in {USER_KIT_DIR}/{name}.py next to the card or its folder",
            )
        ]
    return [Problem(display_path(near[name]), line, "", message) for line, message in check_kit_file(near[name])]


def _close(name: str, table) -> str:
    close = difflib.get_close_matches(name, list(table), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""
