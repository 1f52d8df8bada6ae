"""What every CLI command shares: the workspace option, JSON/table output, error exits.

Commands stay thin: parse options, call a service in mlops_tui/, then ``emit`` a result.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlops_tui import formatting
from mlops_tui.results import Result
from mlops_tui.workspace import Workspace


@dataclass
class _State:
    workspace: str | None = None
    debug: bool = False


STATE = _State()

# The command groups; each is filled by the module of the same name (cli/dataset.py, run.py, model.py)
# in its `register(app)`, and added to the app after every module has registered.
GROUPS: dict[str, typer.Typer] = {
    "dataset": typer.Typer(
        help="Register, inspect, compare and validate datasets.\n\n"
             "Example: mlops-tui dataset add sample_data/penguins.csv --target species",
        no_args_is_help=True),
    "run": typer.Typer(
        help="Tuning runs: list, show, stop, resume, logs, compare, reproduce.\n\n"
             "Example: mlops-tui run list --status running",
        no_args_is_help=True),
    "model": typer.Typer(
        help="The model registry: list, show, promote, roll back, export.\n\n"
             "Example: mlops-tui model promote penguins:1 --alias production",
        no_args_is_help=True),
    "pipeline": typer.Typer(
        help="Declared pipelines (pipeline.toml): run, or say what is stale.\n\n"
             "A run runs only the stages whose inputs changed.\n\n"
             "Example: mlops-tui pipeline run --dry-run",
        no_args_is_help=True),
}

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]

# People read stdout tables; progress and logs go to stderr so --json output stays clean.
# A pipe gets wide tables (Rich would assume 80 columns and cut ids short); COLUMNS still wins.
# Strings print as they are: names, values and paths come from users, and Rich would turn
# `a:b:c` into an emoji or drop `[usd]` from `price[usd]` (and fail on `[/]`). Styling is done
# with rich.text.Text objects (see `styled`), never with markup inside f-strings.
_PIPE_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200
_NO_COLOR = bool(os.environ.get("NO_COLOR")) or None
out = Console(highlight=False, markup=False, emoji=False, no_color=_NO_COLOR, width=_PIPE_WIDTH)
err = Console(stderr=True, highlight=False, markup=False, emoji=False, no_color=_NO_COLOR)


def styled(*parts: str | tuple[str, str] | Text) -> Text:
    """Text from plain parts and ``(text, style)`` pairs: styling that can never parse user text."""
    return Text.assemble(*parts)


def workspace(*, create: bool = False) -> Workspace:
    return Workspace.open(STATE.workspace, create=create)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Result):
        value = value.to_json()
    elif is_dataclass(value) and not isinstance(value, type):  # a store record, e.g. an audit event
        value = asdict(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def emit(payload: Any, as_json: bool, render: Callable[[], None]) -> None:
    """Print ``payload`` (a domain result or store record, or a list or dict of them) as exactly one
    JSON document, or call ``render`` for people."""
    if as_json:
        sys.stdout.write(json.dumps(_jsonable(payload), default=str) + "\n")
        sys.stdout.flush()
    else:
        render()


def fmt(value: Any, digits: int = 4) -> str:
    """A table cell for people (:func:`mlops_tui.formatting.fmt`, with the CLI's em dash for missing)."""
    return formatting.fmt(value, digits, missing="—")


# Columns of numbers that name something (a process, a trial): printed as they are, not as figures
# ('pid 28,207' read as a count).
_ID_COLUMNS = {"pid", "#"}


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    t = Table(title=title, title_justify="left", show_edge=False, header_style="bold")
    ids = [c in _ID_COLUMNS for c in columns]
    cells = [[str(v) if is_id and isinstance(v, int) else fmt(v) for v, is_id in zip(row, ids, strict=False)]
             for row in rows]
    for i, c in enumerate(columns):
        # The first column names the row (an id, a name): never cut it, people copy it.
        first = i == 0
        t.add_column(c, no_wrap=first, min_width=max([len(c)] + [len(r[0]) for r in cells]) if first else None)
    for row in cells:
        t.add_row(*row)
    return t


def interactive() -> bool:
    """Nothing prompts unless a person is at a terminal."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def threshold_line(metrics: dict[str, Any] | None) -> str | None:
    """A binary model's tuned decision threshold in words (`tune --threshold-for`); None without one."""
    m = metrics or {}
    if not m.get("threshold_for"):
        return None
    return (f"decision threshold {fmt(m.get('threshold'))}: class 1 when its probability is at least this "
            f"(tuned for {m['threshold_for']} on rows the model did not learn from; 0.5 without --threshold-for)")
