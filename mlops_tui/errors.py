"""Errors the CLI turns into exit codes: each message is one line a user can act on."""

from __future__ import annotations

from typing import Any


class UserError(Exception):
    """Bad input, not found, failed job: exit 1 with the message, no traceback."""

    exit_code = 1


class PolicyRefused(UserError):
    """A policy said no (gate not passed, challenger not promoted): exit 3."""

    exit_code = 3

    def __init__(self, message: str, payload: Any = None) -> None:
        """``payload``: what the command would have printed (a domain result), printed by ``--json``."""
        super().__init__(message)
        self.payload = payload
