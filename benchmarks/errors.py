"""Errors users see. A `UserError` becomes one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (bad card, bad flag, missing data).

    The message is printed as-is, so it should say what was wrong, what was received and
    what to do next.
    """

    exit_code = 2


class CardError(UserError):
    """A card or suite file failed to load; `problems` holds every `file:line` finding."""

    def __init__(self, problems):
        self.problems = list(problems)
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more; run `bench validate`)" if len(self.problems) > 1 else ""
        super().__init__(f"{first.render()}{more}")


class DataError(UserError):
    """Data that does not match its card: missing column, unknown label, corrupt file."""
