"""`bench validate`: which files to check (paths, `--changed`), their problems, and `--check-data`.

The registry always loads every card (cross-file checks need them all); the selection only
decides which files' problems are reported. A card's user language kit is reported with
the card. `--check-data` reads data only for selected cards that loaded without error.
Without `--check-data` nothing here imports numpy, pyarrow, torch or datasets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from polyglue.cards.changed import ChangedSelection, select_changed
from polyglue.cards.problems import Problem, display_path
from polyglue.cards.registry import Registry, card_dirs
from polyglue.errors import UserError


@dataclass
class ValidationResult:
    files: list[Path]
    """The card, suite and kit files checked (resolved)."""
    problems: list[Problem]
    notes: list[str] = field(default_factory=list)
    changed: ChangedSelection | None = None

    @property
    def shown_files(self) -> list[str]:
        return [display_path(p) for p in self.files]


def _yaml_under(root: Path) -> set[Path]:
    if root.is_file():
        return {root.resolve()}
    return {p.resolve() for p in root.rglob("*.yaml") if not any(part.startswith(".") for part in p.parts)}


def validate(
    paths: list[Path],
    cards: list[Path],
    *,
    changed: bool = False,
    base: str | None = None,
    check_data: bool = False,
    data_dir: Path | None = None,
    sample: int = 1000,
) -> ValidationResult:
    """Check `paths` (default: every card directory) or only what changed against `base`."""
    for p in paths:
        if not p.exists():
            raise UserError(f"no such file or folder: {p}")
        if p.is_file() and p.suffix != ".yaml":
            raise UserError(f"{p}: not a card or suite file (.yaml); language kits are checked with the cards that use them")
    if data_dir is not None and not check_data:
        raise UserError("--data-dir is read by --check-data; add --check-data (or drop --data-dir)")
    if data_dir is not None and not data_dir.is_dir():
        raise UserError(f"--data-dir {data_dir} is not a directory")
    if base is not None and not changed:
        raise UserError("--base goes with --changed")
    extra = list(cards) + list(paths)
    reg = Registry.discover(extra)
    scope: set[Path] = {d.resolve() for d in card_dirs(cards) if not d.exists()}  # "card directory does not exist"
    for root in paths or [d for d in card_dirs(cards) if d.exists()]:
        scope |= _yaml_under(root)
    selection = None
    if changed:
        selection = select_changed(reg, extra, base)
        scope = (scope & selection.files) | {f for f in selection.files if f.suffix == ".py" and _kit_in_scope(f, paths)}
    from polyglue.cards.kitnames import find_user_kit  # pure data, no torch

    for entry in reg.cards.values():
        kit = find_user_kit(entry.card.langkit, entry.path)
        if kit is not None and entry.path.resolve() in scope:
            scope.add(kit.resolve())
    problems = sorted((p for p in reg.problems if Path(p.file).resolve() in scope), key=lambda p: (p.file, p.line))
    result = ValidationResult(sorted(p for p in scope if p.exists()), problems, changed=selection)
    if check_data:
        _check_data(reg, result, scope, data_dir, sample)
    return result


def _kit_in_scope(kit: Path, paths: list[Path]) -> bool:
    return not paths or any(kit == p.resolve() or p.resolve() in kit.parents for p in paths)


def _check_data(reg: Registry, result: ValidationResult, scope: set[Path], data_dir: Path | None, sample: int) -> None:
    from polyglue.data.quality import check_card_data

    broken = {Path(p.file).resolve() for p in reg.errors()}
    member: dict[str, str] = {}
    for s in sorted(reg.suites.values(), key=lambda e: e.suite.name):
        for c in s.suite.cards:
            member.setdefault(c, s.suite.name)
    for entry in sorted(reg.cards.values(), key=lambda e: e.card.name):
        path = entry.path.resolve()
        if path not in scope:
            continue
        if path in broken:
            result.notes.append(f"{entry.card.name}: data not checked until the card itself validates")
            continue
        report = check_card_data(entry, suite=member.get(entry.card.name), data_dir=data_dir, sample=sample)
        result.problems += report.problems
        result.notes += report.notes
    result.problems.sort(key=lambda p: (p.file, p.line))
