"""Exceptions that carry a message meant for a person, not a traceback."""

from __future__ import annotations


class LangAssessError(Exception):
    """Base class for errors lang_assess reports to its users as one clear line."""


class BankError(LangAssessError, ValueError):
    """Item parameters or bank content are invalid.

    The message names the item and the field (and the file, when one was read).
    ``problems`` holds every problem found, so a bank is fixed in one pass.
    """

    def __init__(self, problems: list[str] | str, source: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        if len(self.problems) == 1:
            msg = head + self.problems[0]
        else:
            shown = "; ".join(self.problems[:10])
            more = f" (and {len(self.problems) - 10} more)" if len(self.problems) > 10 else ""
            msg = f"{head}{len(self.problems)} problems: {shown}{more}"
        super().__init__(msg)


class SessionError(LangAssessError, ValueError):
    """A test session was driven out of order or restored from inconsistent state."""
