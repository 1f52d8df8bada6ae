"""The headless CLI: `mlops-tui COMMAND`. With no command it opens the TUI.

Heavy libraries (lightgbm, sklearn, optuna, textual) are imported inside the commands that need
them, so `--help`, list commands and the TUI's first frame stay fast.
"""

from __future__ import annotations

import sys
import traceback
from typing import Annotated, Any, cast

import typer
from typer import Abort, Exit, TyperException

from mlops_tui.cli import _common
from mlops_tui.cli._common import STATE, err

app = typer.Typer(
    name="mlops-tui",
    help="A keyboard-driven workbench for tabular ML: datasets, tuning, registry, scoring, monitoring.\n\n"
         "With no command it opens the workbench. Example: mlops-tui init --sample && mlops-tui dataset list",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    workspace: Annotated[
        str | None,
        typer.Option("--workspace", "-w", envvar="MLOPS_WORKSPACE", help="Workspace folder [default: ./.mlops]."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    STATE.workspace = workspace
    STATE.debug = debug
    if ctx.invoked_subcommand is None:
        from mlops_tui.cli.workspace_cmds import tui

        tui()


def _register() -> None:
    # Each module adds its commands; the import order is the order of `--help`.
    from mlops_tui.cli import (
        audit,
        dataset,
        evaluate,
        lineage,
        model,
        monitor,
        pipeline,
        run,
        scoring,
        serve,
        sql,
        workspace_cmds,
    )

    for module in (workspace_cmds, dataset, run, evaluate, model, scoring, serve, monitor, pipeline, sql, audit, lineage):
        module.register(app)
    for name, sub in _common.GROUPS.items():
        app.add_typer(sub, name=name)


_register()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: map errors to the exit codes of the README's CLI contract with one line on stderr."""
    from mlops_tui.errors import UserError
    from mlops_tui.store import StoreError

    code = 0
    try:
        # Without standalone mode, typer.Exit(n) raised in a command comes back as the return value.
        # Typer turns Ctrl-C into Exit(130), which comes back the same way.
        code = app(args=argv, standalone_mode=False) or 0
        if code == 130:
            err.print("interrupted")
    except Exit as exc:
        code = exc.exit_code
    except TyperException as exc:  # usage errors: Typer's exceptions are Click's, which show themselves
        cast(Any, exc).show()
        code = exc.exit_code if exc.exit_code != 1 else 2
    except (Abort, KeyboardInterrupt):
        err.print("interrupted")
        code = 130
    except (UserError, StoreError) as exc:
        if STATE.debug:
            traceback.print_exc()
        code = getattr(exc, "exit_code", 1)
        # A policy saying no (exit 3) is a verdict, not an error the user made.
        err.print(f"{'refused' if code == 3 else 'error'}: {exc}", markup=False, soft_wrap=True)
        payload = getattr(exc, "payload", None)
        if payload and "--json" in (argv if argv is not None else sys.argv):
            _common.emit(payload, True, lambda: None)
    except Exception as exc:  # noqa: BLE001 - last resort: still one line unless --debug
        if STATE.debug:
            traceback.print_exc()
        err.print(f"error: {type(exc).__name__}: {exc} (rerun with --debug for details)", markup=False, soft_wrap=True)
        code = 1
    sys.exit(code)
