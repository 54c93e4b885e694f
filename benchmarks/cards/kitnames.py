"""Language kits by name: which exist and where. Pure data, read by `bench validate` (which must not
import torch); loading a kit is `polyglue.langkits.registry.get_kit`.

Three kinds of kit:

- built-in kits, `KITS` below: a value is `module:Class`, imported only when a run needs it;
- kits of installed plugins, from the `polyglue.langkits` entry point group (the entry point's
  name is the kit name; its names are read without importing the plugin);
- user kits, next to the cards that use them: `langkits/<name>.py` in the card's folder or
  in the folder above it (so `cards/langkits/eus.py` serves every suite under `cards/`, and
  `cards/basqueglue/langkits/eus.py` only that suite). The file defines `class Kit(LangKit)`;
  the kit's name is the file name. This works the same in a clone and when polyglue is
  installed in site-packages, because the kit travels with the card directory, not with
  the package. Finding a user kit reads no Python; only `get_kit` imports the file.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

KITS: dict[str, str] = {
    "default": "polyglue.langkits.kits:LangKit",
    "cat": "polyglue.langkits.kits:CatalanKit",
    "ell-greekbert": "polyglue.langkits.kits:GreekBertKit",
    "zho": "polyglue.langkits.kits:ChineseKit",
}

#: Folder name that holds user kits, next to card files.
USER_KIT_DIR = "langkits"
#: Class a user kit file must define.
USER_KIT_CLASS = "Kit"
_KIT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def plugin_kits() -> dict[str, str]:
    """Kit name -> `module:Class` of installed plugins (a built-in name cannot be replaced)."""
    from polyglue.plugins import entry_points

    return {ep.name: ep.value for ep in entry_points("polyglue.langkits") if ep.name not in KITS}


def kit_names() -> set[str]:
    """Names of the built-in and plugin kits (user kits next to cards are found per card)."""
    return set(KITS) | set(plugin_kits())


def user_kit_dirs(card_path: Path) -> list[Path]:
    """Where a card's user kits may live, nearest first: `<card folder>/langkits`, `<parent>/langkits`."""
    folder = Path(card_path).parent
    return [folder / USER_KIT_DIR, folder.parent / USER_KIT_DIR]


def user_kits_near(card_path: Path) -> dict[str, Path]:
    """User kit name -> file, as a card at `card_path` sees them (nearest folder wins)."""
    found: dict[str, Path] = {}
    for folder in reversed(user_kit_dirs(card_path)):
        if folder.is_dir():
            found.update({p.stem: p for p in sorted(folder.glob("*.py")) if _KIT_NAME.match(p.stem)})
    return found


def find_user_kit(name: str, card_path: Path | None) -> Path | None:
    """The user kit file for `name` as seen from `card_path`; None for built-in or unknown names."""
    if name in KITS or card_path is None or name in plugin_kits():
        return None
    return user_kits_near(card_path).get(name)


def kit_file_hash(path: Path) -> str:
    """Content hash of a user kit file (part of the unit key: editing a kit makes new units)."""
    from polyglue.hashing import file_sha256

    return file_sha256(Path(path))[:16]


def check_kit_file(path: Path) -> list[tuple[int, str]]:
    """Static checks of a user kit, without importing it: `(line, message)` per problem."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        return [(exc.lineno or 1, f"Python syntax error: {exc.msg}")]
    except (OSError, UnicodeDecodeError) as exc:
        return [(1, f"cannot read the kit file: {exc}")]
    if not any(isinstance(node, ast.ClassDef) and node.name == USER_KIT_CLASS for node in tree.body):
        return [(1, f"a language kit file must define `class {USER_KIT_CLASS}(LangKit)` (see langkits/kits.py)")]
    return []
