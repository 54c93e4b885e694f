"""Load a language kit by name: built in, from a plugin, or a user kit file next to the card.

Which kits exist (pure data, no import of kit code) is `polyglue.cards.kitnames`; it is
re-exported here for callers that think of kits as text-side code.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from polyglue.cards.kitnames import (  # noqa: F401 - re-exported
    KITS,
    USER_KIT_CLASS,
    USER_KIT_DIR,
    check_kit_file,
    find_user_kit,
    kit_file_hash,
    kit_names,
    plugin_kits,
    user_kit_dirs,
    user_kits_near,
)


def get_kit(name: str, card_path: Path | None = None):
    """Instantiate the kit `name`: a built-in one, or the user kit next to `card_path`."""
    from polyglue.errors import UserError

    if name in KITS:
        module, _, attr = KITS[name].partition(":")
        return getattr(importlib.import_module(module), attr)()
    plugin = plugin_kits().get(name)
    if plugin is not None:
        return _load_plugin_kit(name, plugin)()
    path = find_user_kit(name, card_path)
    if path is None:
        near = sorted(user_kits_near(card_path)) if card_path is not None else []
        raise UserError(
            f"unknown language kit '{name}' (built-in: {', '.join(sorted(KITS))}"
            f"{'; next to the card: ' + ', '.join(near) if near else ''}); "
            f"add {USER_KIT_DIR}/{name}.py next to the card (`bench add-language` writes one)"
        )
    return _load_user_kit(name, path)()


def _load_plugin_kit(name: str, target: str):
    from polyglue.errors import UserError
    from polyglue.langkits.kits import LangKit
    from polyglue.plugins import resolve_target

    try:
        cls = resolve_target(target)
    except Exception as exc:  # noqa: BLE001 - a broken plugin is named, not a traceback
        raise UserError(f"language kit '{name}' from a plugin ({target}) failed to import: {type(exc).__name__}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, LangKit)):
        raise UserError(f"language kit '{name}' ({target}) must be a subclass of polyglue.langkits.kits.LangKit")
    return cls


def _load_user_kit(name: str, path: Path):
    from polyglue.errors import UserError
    from polyglue.langkits.kits import LangKit

    problems = check_kit_file(path)
    if problems:
        line, message = problems[0]
        raise UserError(f"{path}:{line}: {message}")
    module_name = f"polyglue_user_kits.{name}_{kit_file_hash(path)}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls = getattr(module, USER_KIT_CLASS)
    if not (isinstance(cls, type) and issubclass(cls, LangKit)):
        raise UserError(f"{path}: `{USER_KIT_CLASS}` must be a subclass of polyglue.langkits.kits.LangKit")
    return cls
