"""`audit`: the append-only audit trail (see the README's CLI contract). Thin: parse, call
``mlops_tui.registry.lineage.events``, emit."""

from __future__ import annotations

from typing import Annotated

import typer

from mlops_tui.cli._common import JsonFlag, emit, out, table, workspace


def audit(
    obj: Annotated[str | None, typer.Option("--object", "-o", help="Only objects starting with this, e.g. model:credit.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most events to show.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """The append-only audit trail, newest first.

    Each event: time, user, host, command, object, outcome.

    Example: mlops-tui audit --object deployment:bikes --limit 20
    """
    from mlops_tui.registry import lineage

    rows = lineage.events(workspace(), obj, limit)

    def render() -> None:
        if not rows:
            out.print("no audit events yet")
            return
        out.print(table(None, ["at", "user", "host", "command", "object", "outcome"],
                        [(r.at, r.user, r.host, r.command, r.object, r.outcome) for r in rows]))

    emit(rows, as_json, render)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
