"""Third-party extensions, discovered through entry points and loaded lazily.

Three groups, one per extension point:

* `polyglue.encoders`: each entry point names an `polyglue.encoders.EncoderKind` (a new `--model` kind);
* `polyglue.runners`: each names a mapping `{(task type, protocol): runner}`, a runner being a
  `run(ctx) -> UnitResult` function or its `"module:function"` name;
* `polyglue.langkits`: each entry point's name is a kit name, its object a `LangKit` subclass.

A plugin that fails to import never breaks polyglue: its error is kept by name and shown by
`bench list models`, and only a run that needs it fails (with that one line).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from typing import Any

GROUPS = ("polyglue.encoders", "polyglue.runners", "polyglue.langkits")


@dataclass(frozen=True)
class Loaded:
    """One entry point after loading: its object, or the one-line reason it could not load."""

    name: str
    value: str
    package: str
    obj: Any = None
    error: str | None = None


@lru_cache(maxsize=None)
def entry_points(group: str) -> tuple[metadata.EntryPoint, ...]:
    """The group's entry points, sorted by name (no plugin code runs); scanned once per process,
    since every installed distribution's metadata is read (validation asks once per card)."""
    return tuple(sorted(metadata.entry_points(group=group), key=lambda ep: ep.name))


def package_of(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else "unknown package"


@lru_cache(maxsize=None)
def load(group: str) -> tuple[Loaded, ...]:
    """Load every entry point of `group` once per process; failures are recorded, not raised."""
    out = []
    for ep in entry_points(group):
        try:
            out.append(Loaded(ep.name, ep.value, package_of(ep), obj=ep.load()))
        except Exception as exc:  # noqa: BLE001 - any plugin bug must stay inside the plugin's row
            out.append(Loaded(ep.name, ep.value, package_of(ep), error=f"{type(exc).__name__}: {exc}"))
    return tuple(out)


def resolve_target(target: Any) -> Any:
    """A `"module:attribute"` string imported now, or the object itself."""
    if isinstance(target, str):
        import importlib

        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)
    return target


def import_failures(groups: tuple[str, ...] = ("polyglue.runners", "polyglue.langkits")) -> list[str]:
    """One line per plugin entry point of `groups` that failed to import (encoders report their own)."""
    return [
        f"{group} plugin '{item.name}' ({item.package}) failed to import {item.value}: {item.error}"
        for group in groups
        for item in load(group)
        if item.error is not None
    ]
