"""CLI commands (see ../shared/CLI.md). Thin: parse, call a service, emit."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
