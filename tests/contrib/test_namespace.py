"""One import namespace: the wheel installs `polyglue` and nothing else at the top level, and the
pyproject package list names every package folder (a folder left out would silently vanish)."""

from __future__ import annotations

import tomllib

from tests.conftest import REPO
from tests.contrib.test_installed_package import site  # noqa: F401 - the built wheel, unpacked


def test_the_wheel_installs_only_polyglue_at_the_top_level(site):  # noqa: F811
    top = {p.name for p in site.iterdir() if not p.name.endswith((".dist-info", ".data"))}
    assert top == {"polyglue"}
    for sub in ("langkits", "speech", "builtin_cards", "cards", "runs", "cli"):
        assert (site / "polyglue" / sub / "__init__.py").exists(), sub
    assert (site / "polyglue" / "builtin_cards" / "glue" / "suite.yaml").exists()
    (dist,) = site.glob("polyglue-*.dist-info")
    entry = (dist / "entry_points.txt").read_text()
    assert "bench = polyglue.cli:main" in entry


def test_the_package_list_names_every_package_folder():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping = config["package-dir"]
    expected = set()
    for name, folder in mapping.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            expected.add(".".join([name, *rel.parts]))
    nested = {n for n in expected if any(n != m and n.startswith(m + ".") and mapping.get(n) for m in mapping)}
    assert set(config["packages"]) == expected | nested


def test_dependencies_are_ranges_and_exact_pins_live_in_constraints():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for name in ("torch", "torchaudio", "transformers", "datasets"):
        (spec,) = [d for d in deps if d.split(">")[0].split("=")[0].split("<")[0].strip() == name]
        assert "==" not in spec and ">=" in spec, spec
    pins = (REPO / "constraints.txt").read_text()
    assert "torch==2.13.0" in pins and "torchaudio==2.11.0" in pins
