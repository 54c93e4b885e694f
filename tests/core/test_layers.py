"""The import structure DESIGN.md draws, checked on the source: layers import downward only,
runners import only the contract and what is below it, and no two packages import each other.

Every import counts, module-level or inside a function (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

#: Repository folder -> import name (pyproject's package-dir mapping).
ROOTS = {"benchmarks": "polyglue", "langkits": "polyglue.langkits", "speech": "polyglue.speech"}

#: Lowest first. A module may import its own layer and the layers below it.
LAYERS = [
    {"polyglue.errors", "polyglue.plugins", "polyglue.hashing", "polyglue.jsonl", "polyglue.cards"},
    {"polyglue.data", "polyglue.metrics", "polyglue.features", "polyglue.cache_budget", "polyglue.encoders", "polyglue.objects", "polyglue.accel", "polyglue.torch_compat", "polyglue.peft_adapters", "polyglue.efficiency"},
    {"polyglue.contract"},
    {"polyglue.langkits", "polyglue.speech"},
    {"polyglue.runs"},
    {"polyglue.report", "polyglue.validation", "polyglue.scaffold", "polyglue.demo"},
    {"polyglue.api"},
    {"polyglue.cli"},
]
RUNNER_PACKAGES = ("polyglue.langkits.protocols", "polyglue.speech.runners")


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO)
    parts = list(rel.with_suffix("").parts)
    parts[0] = ROOTS[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit_of(module: str) -> str | None:
    """The layer unit a module belongs to: the longest LAYERS entry that prefixes it."""
    best = None
    for layer in LAYERS:
        for unit in layer:
            if (module == unit or module.startswith(unit + ".")) and (best is None or len(unit) > len(best)):
                best = unit
    return best


def rank(unit: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if unit in layer)


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]  # `from polyglue import api`
    return [(line, name) for line, name in out if name.startswith("polyglue")]


def source_files() -> list[Path]:
    return sorted(p for root in ROOTS for p in (REPO / root).rglob("*.py") if "__pycache__" not in p.parts)


EDGES = []
for _path in source_files():
    _mod = module_name(_path)
    if _mod == "polyglue":  # the facade: re-exports the API lazily
        continue
    for _line, _target in imports_of(_path):
        _src, _dst = unit_of(_mod), unit_of(_target)
        if _src and _dst and _src != _dst:
            EDGES.append((_path.relative_to(REPO), _line, _mod, _src, _target, _dst))


def test_every_module_belongs_to_a_layer():
    missing = sorted({module_name(p) for p in source_files() if unit_of(module_name(p)) is None} - {"polyglue"})
    assert not missing, f"modules outside every layer of this test: {missing}"


def test_layers_import_downward_only():
    upward = [f"{p}:{line}: {mod} imports {target}" for p, line, mod, src, target, dst in EDGES if rank(dst) > rank(src)]
    assert not upward, "\n".join(upward)


def test_no_two_packages_import_each_other():
    pairs = {(src, dst) for *_, src, _t, dst in EDGES}
    cycles = sorted({tuple(sorted(p)) for p in pairs if (p[1], p[0]) in pairs})
    assert not cycles, cycles


@pytest.mark.parametrize("path", [p for p in source_files() if module_name(p).startswith(RUNNER_PACKAGES)], ids=lambda p: p.name)
def test_runners_import_only_the_contract_and_below(path):
    allowed_top = rank("polyglue.langkits")  # their own side, the contract, and what is below
    bad = [f"{line}: {t}" for line, t in imports_of(path) if unit_of(t) and rank(unit_of(t)) > allowed_top]
    assert not bad, bad


def test_the_runner_table_names_only_runner_modules():
    from polyglue.runs.dispatch import RUNNERS

    assert {target.partition(":")[0] for target in RUNNERS.values()} <= {
        m for m in map(module_name, source_files()) if m.startswith(RUNNER_PACKAGES)
    }
