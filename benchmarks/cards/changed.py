"""Which card and suite files a change touches, against a git ref (`bench validate --changed`).

Changed means: differs between the merge base of `base` and HEAD and the working tree
(committed, staged, unstaged or untracked), so the same command serves a pull request in
CI (`--base origin/main`) and a pre-commit hook (`--base HEAD`). The selection grows by
what a change can break elsewhere:

- a suite that lists a changed or deleted card (its cross-file checks may now fail);
- cards that use a changed user language kit (`langkits/<name>.py` next to the cards);
- every file that defines the same name as a selected file (duplicates are found on both).

Only git and YAML: no torch.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from polyglue.cards.registry import Registry, card_dirs
from polyglue.errors import UserError


@dataclass
class ChangedSelection:
    """Files to check, and the changed files that put them there."""

    base: str
    merge_base: str
    files: set[Path] = field(default_factory=set)
    """Resolved paths of the card, suite and kit files to check."""
    changed: list[str] = field(default_factory=list)
    """Repository-relative paths git reports as changed, under a card directory."""


#: git's empty tree: the base when a repository has no commit yet.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


class _GitError(Exception):
    pass


def _git(args: list[str], cwd: Path) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise UserError("--changed needs git on PATH") from None
    if proc.returncode != 0:
        raise _GitError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"git {' '.join(args)} failed")
    return proc.stdout


def default_base(cwd: Path) -> str:
    """`origin/$GITHUB_BASE_REF` in GitHub pull requests, else `origin/main`, else `main`."""
    candidates = []
    if os.environ.get("GITHUB_BASE_REF"):
        candidates.append(f"origin/{os.environ['GITHUB_BASE_REF']}")
    candidates += ["origin/main", "main"]
    for ref in candidates:
        try:
            _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd)
            return ref
        except _GitError:
            continue
    raise UserError(f"--changed: none of {', '.join(candidates)} exists here; give --base REF (e.g. --base HEAD for uncommitted changes)")


def changed_files(base: str, cwd: Path) -> tuple[Path, str, list[str], list[str]]:
    """(repository root, merge base, changed or added paths, deleted paths); paths relative to the root."""
    try:
        top = Path(_git(["rev-parse", "--show-toplevel"], cwd).strip())
    except _GitError:
        raise UserError(f"--changed needs a git checkout; {cwd} is not inside one") from None
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{base}^{{commit}}"], top)
    except _GitError:
        if base != "HEAD":
            raise UserError(f"--base {base}: no such git ref here (in CI, check out with fetch-depth: 0 and fetch the base branch)") from None
        merge_base = EMPTY_TREE  # no commit yet (the first commit's pre-commit hook): everything is new
    else:
        try:
            merge_base = _git(["merge-base", base, "HEAD"], top).strip()
        except _GitError as exc:
            raise UserError(f"--base {base}: no common ancestor with HEAD ({exc}); a shallow clone needs fetch-depth: 0") from None
    out = _git(["diff", "--name-status", "--no-renames", "-z", merge_base, "--"], top).split("\0")
    present: list[str] = []
    deleted: list[str] = []
    for status, path in zip(out[0::2], out[1::2]):
        (deleted if status == "D" else present).append(path)
    present += [p for p in _git(["ls-files", "--others", "--exclude-standard", "-z"], top).split("\0") if p]
    return top, merge_base, sorted(set(present)), sorted(set(deleted))


def _name_of(text: str) -> str | None:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def _under_any(path: Path, roots: list[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def select_changed(registry: Registry, extra_dirs: list[Path], base: str | None, cwd: Path | None = None) -> ChangedSelection:
    """The card, suite and kit files to check for a change against `base` (see the module docstring)."""
    from polyglue.cards.kitnames import USER_KIT_DIR, find_user_kit  # pure data, no torch

    cwd = Path(cwd or Path.cwd())
    base = base or default_base(cwd)
    top, merge_base, present, deleted = changed_files(base, cwd)
    roots = [d.resolve() for d in card_dirs(extra_dirs) if d.exists()]
    sel = ChangedSelection(base=base, merge_base=merge_base)

    def relevant(rel: str) -> bool:
        path = (top / rel).resolve()
        return _under_any(path, roots) and (path.suffix == ".yaml" or (path.suffix == ".py" and path.parent.name == USER_KIT_DIR))

    sel.changed = sorted(p for p in present + deleted if relevant(p))
    changed_kits = {(top / p).resolve() for p in present if relevant(p) and p.endswith(".py")}
    sel.files |= {(top / p).resolve() for p in present if relevant(p)}

    deleted_names = set()
    for rel in deleted:
        if relevant(rel) and rel.endswith(".yaml"):
            try:
                name = _name_of(_git(["show", f"{merge_base}:{rel}"], top))
            except _GitError:
                name = None
            if name:
                deleted_names.add(name)

    for entry in registry.cards.values():
        kit = find_user_kit(entry.card.langkit, entry.path)
        if kit is not None and kit.resolve() in changed_kits:
            sel.files.add(entry.path.resolve())

    selected_names = {n for n, paths in registry.declared.items() if paths & sel.files}  # broken files have names too
    for name in selected_names:
        sel.files |= registry.declared[name]
    card_names = selected_names | deleted_names
    for suite_entry in registry.suites.values():
        if card_names & set(suite_entry.suite.cards):
            sel.files.add(suite_entry.path.resolve())
    return sel
