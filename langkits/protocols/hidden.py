"""Hidden-label splits (GLUE and CLUE test sets): predicted for leaderboard submission, never scored.

A card declares such a split with `labels: hidden`. The text runners predict it with the
same model they score the other splits with and return one record per example with
`gold: None` under the split's role; the driver stores those records in a file of their
own (`*.hidden.jsonl`) that `bench submit` reads. A hidden split that cannot be loaded
(e.g. a mirror without the test file) does not fail the unit: the reason is recorded in
`extras["hidden_predictions_skipped"]` and `bench submit` names the card.
"""

from __future__ import annotations

from polyglue.data.materialize import SplitData
from polyglue.errors import UserError


def hidden_roles(card) -> list[str]:
    """Roles of `card` whose labels are withheld, in the card's order."""
    return [role for role, spec in card.splits.roles().items() if role != "train" and spec.labels == "hidden"]


def load(ctx) -> tuple[dict[str, SplitData], dict[str, str]]:
    """(hidden splits by role, reasons by role for those that could not be read)."""
    splits, skipped = {}, {}
    for role in hidden_roles(ctx.card):
        try:
            splits[role] = ctx.data.split(role)
        except UserError as exc:  # DataError included: missing file, no mirror, Hub out of reach
            skipped[role] = str(exc)
    return splits, skipped


def blind(records: list[dict]) -> list[dict]:
    """The records with their gold set to None (the placeholder labels of a hidden split mean nothing)."""
    for record in records:
        record["gold"] = None
    return records


def note(extras: dict, skipped: dict[str, str]) -> dict:
    """Record the hidden splits that could not be predicted in `extras`."""
    if skipped:
        extras["hidden_predictions_skipped"] = skipped
    return extras
