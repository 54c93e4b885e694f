"""Cards and suites: schema, strict YAML loading, registry. Pure Python (no torch)."""

from benchmarks.cards.problems import Problem
from benchmarks.cards.registry import CardEntry, Registry, SuiteEntry, load_file
from benchmarks.cards.schema import Card, Suite

__all__ = ["Card", "CardEntry", "Problem", "Registry", "Suite", "SuiteEntry", "load_file"]
