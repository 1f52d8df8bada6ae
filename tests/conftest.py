"""Shared fixtures: a real workspace with a real DuckDB file in a temp dir, and the CLI in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def ws(tmp_path):
    """A fresh, initialized workspace (no datasets)."""
    from mlops_tui.workspace import Workspace

    return Workspace.open(tmp_path / "ws", create=True)


def run_cli(capsys, root: Path, *args: str) -> CliResult:
    """`mlops-tui --workspace ROOT ARGS...` in this process; returns CliResult.

    The CLI's console is built once per process, with the width of whatever environment imported it
    first: pin it for the call, so a table wraps the same way whichever test ran before."""
    from mlops_tui.cli import _common, main

    capsys.readouterr()
    width = _common.out.width
    _common.out.width = 160
    try:
        main(["--workspace", str(root), *map(str, args)])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        _common.out.width = width
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


@pytest.fixture
def cli(ws, capsys, monkeypatch):
    """Run `mlops-tui --workspace <ws> ARGS...` in this process; returns CliResult."""
    monkeypatch.setenv("NO_COLOR", "1")
    return lambda *args: run_cli(capsys, ws.root, *args)


def run_cli_subprocess(ws_root: Path, *args: str, timeout: float = 120, env: dict | None = None) -> CliResult:
    """The real console script in a child process (for detach, kill, import-cost tests)."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_tui", "--workspace", str(ws_root), *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=full_env, stdin=subprocess.DEVNULL,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


# Real services for the multi-host tests (tests/infra): a PostgreSQL server, a network of namespaces.
from tests.infra.netns import network  # noqa: E402, F401  (fixture)
from tests.infra.postgres import postgres  # noqa: E402, F401  (fixture)
