"""Cards and suites: schema, strict YAML loading, registry. Pure Python (no torch)."""

from polyglue.cards.problems import Problem
from polyglue.cards.registry import CardEntry, Registry, SuiteEntry, load_file
from polyglue.cards.schema import Card, Suite

__all__ = ["Card", "CardEntry", "Problem", "Registry", "Suite", "SuiteEntry", "load_file"]
