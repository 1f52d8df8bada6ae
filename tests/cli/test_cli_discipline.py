"""The headless contract of CLI.md that every command shares.

Scripts and cron jobs call these commands, so: `--json` prints exactly one JSON document on
stdout, errors are one line on stderr with exit 1 (no traceback), usage errors exit 2, and a
headless command never pays for (or depends on) the TUI or the ML libraries at import time.
Exit codes and imports are checked in real child processes, as a script would see them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SAMPLE, run_cli_subprocess

HEAVY = {"textual", "lightgbm", "sklearn", "optuna", "scipy", "uvicorn", "starlette", "prometheus_client"}

# Runs the console script's entry point in a fresh interpreter, then reports what got imported.
IMPORT_PROBE = f"""
import json, sys
from mlops_tui.entry import main
report, sys.argv = sys.argv[1], ["mlops-tui", *sys.argv[2:]]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {sorted(HEAVY)})
with open(report, "w") as fh:
    json.dump({{"code": code, "heavy": heavy}}, fh)
"""


def _probe(tmp_path, *args: str) -> dict:
    report = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, str(report), *args], cwd=ROOT,
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert report.exists(), proc.stderr
    return {**json.loads(report.read_text()), "stdout": proc.stdout, "stderr": proc.stderr}


@pytest.fixture
def populated(ws, cli):
    """A workspace with one real dataset, so list commands have something to show."""
    result = cli("dataset", "add", str(SAMPLE / "penguins.csv"), "--name", "penguins",
                 "--target", "species", "--json")
    assert result.code == 0, result.stderr
    return ws


@pytest.mark.parametrize("args", [
    ["--help"],
    ["dataset", "--help"],
    ["dataset", "list", "--json"],
    ["dataset", "show", "penguins", "--json"],
    ["model", "list", "--json"],
    ["run", "list", "--json"],
    ["audit", "--json"],
    ["serve", "list", "--json"],
], ids=" ".join)
def test_headless_commands_load_no_tui_or_ml_library(tmp_path, populated, args):
    result = _probe(tmp_path, "--workspace", str(populated.root), *args)
    assert result["code"] == 0, result["stderr"]
    assert result["heavy"] == []


@pytest.mark.parametrize("args", [
    ["dataset", "list", "--json"],
    ["dataset", "show", "penguins", "--json"],
    ["dataset", "head", "penguins", "--json"],
    ["model", "list", "--json"],
    ["run", "list", "--json"],
    ["audit", "--json"],
    ["sql", "SELECT name, version FROM v_datasets", "--json"],
], ids=" ".join)
def test_json_output_is_exactly_one_document(populated, cli, args):
    result = cli(*args)
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)  # the whole of stdout, nothing before or after
    assert document is not None
    assert result.stdout.count("\n") == 1


def test_progress_of_dataset_add_goes_to_stderr_not_into_the_json(ws, cli):
    result = cli("dataset", "add", str(SAMPLE / "default.csv"), "--name", "credit", "--json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["version"] == 1


@pytest.mark.parametrize("args", [
    ["no-such-command"],
    ["dataset", "list", "--no-such-option"],
    ["dataset", "show"],  # missing argument
    ["score", "--no-such-option"],
], ids=" ".join)
def test_usage_errors_exit_2_without_traceback(ws, args):
    result = run_cli_subprocess(ws.root, *args)
    assert result.code == 2
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_unknown_workspace_for_a_read_command_exits_1_with_one_line(tmp_path):
    missing = tmp_path / "nowhere"
    result = run_cli_subprocess(missing, "dataset", "list", "--json")
    assert result.code == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "no workspace" in result.stderr and str(missing) in result.stderr
    assert not missing.exists()  # reading never creates a workspace


def test_workspace_comes_from_the_environment_when_not_given(tmp_path, ws):
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_tui", "dataset", "list", "--json"], cwd=tmp_path,
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "MLOPS_WORKSPACE": str(ws.root)},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
    assert not (tmp_path / ".mlops").exists()


@pytest.mark.parametrize("args", [
    ["dataset", "show", "nope", "--json"],
    ["dataset", "show", "penguins:9", "--json"],
    ["model", "show", "nope", "--json"],
    ["run", "show", "nope", "--json"],
], ids=" ".join)
def test_not_found_exits_1_with_one_line_and_no_output(populated, cli, args):
    result = cli(*args)
    assert result.code == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: ")


def test_sql_write_is_refused_with_exit_1_and_changes_nothing(populated, cli):
    result = cli("sql", "DELETE FROM dataset_versions", "--json")
    assert result.code == 1
    assert "read-only" in result.stderr
    assert cli("dataset", "list", "--json").json[0]["name"] == "penguins"


def test_every_command_help_has_an_example(ws):
    """CLI.md: the help of each command carries an "Example:" line."""
    from typer.main import get_command

    from mlops_tui.cli import app

    root = get_command(app)
    missing = [] if "Example:" in (root.help or "") else ["mlops-tui"]
    for name, command in root.commands.items():
        subcommands = getattr(command, "commands", None)
        pairs = [(f"{name} {sub}", c) for sub, c in subcommands.items()] if subcommands else []
        pairs.append((name, command))  # a group's own --help too (`mlops-tui dataset --help`)
        missing += [label for label, c in pairs if "Example:" not in (c.help or "")]
    assert missing == []


@pytest.mark.parametrize("args", [["--help"], ["dataset", "--help"], ["run", "--help"], ["model", "--help"]],
                         ids=" ".join)
def test_group_help_shows_an_example_and_a_one_line_summary_in_the_parent(ws, cli, args):
    result = cli(*args)
    assert result.code == 0 and "Example: mlops-tui" in result.stdout
    listing = cli("--help").stdout
    assert "Register, inspect, compare and validate datasets." in listing
    assert "Example" not in listing.split("Commands:")[1]  # the summary line stays short


@pytest.mark.parametrize("args", [[], ["tui"]], ids=lambda a: " ".join(a) or "no command")
def test_the_workbench_without_a_terminal_exits_1_instead_of_hanging(tmp_path, args):
    root = tmp_path / "ws"
    result = run_cli_subprocess(root, *args, timeout=60)
    assert result.code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs a terminal" in lines[0] and "Traceback" not in result.stderr
    assert not root.exists()


ENTRY_CHILD = r"""
import json, sys
from mlops_tui import entry
sys.argv = ["mlops-tui", *json.loads(sys.argv[1])]
try:
    entry.main()
    code = 0
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "cli_loaded": "typer" in sys.modules or "mlops_tui.cli" in sys.modules}))
"""


@pytest.mark.parametrize(("args", "cli_loaded"), [
    ([], False), (["--workspace", "{ws}"], False), (["-w", "{ws}", "--debug"], False), (["--workspace={ws}"], False),
    (["--workspace", "{ws}", "dataset", "list"], True), (["--help"], True),
], ids=lambda a: " ".join(a) if isinstance(a, list) else str(a))
def test_bare_mlops_tui_opens_the_workbench_without_building_the_command_line(tmp_path, args, cli_loaded):
    """Typer and the command modules cost ~150 ms the TUI's first frame would wait for."""
    root = tmp_path / "ws"
    argv = [a.replace("{ws}", str(root)) for a in args]
    proc = subprocess.run([sys.executable, "-c", ENTRY_CHILD, json.dumps(argv)], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, cwd=tmp_path)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["cli_loaded"] is cli_loaded
    if not cli_loaded:  # no terminal here: one line, exit 1, nothing created
        assert out["code"] == 1 and "needs a terminal" in proc.stderr and not root.exists()


@pytest.mark.parametrize("group", [[], ["dataset"], ["run"], ["model"], ["pipeline"]], ids=lambda g: " ".join(g) or "root")
def test_every_command_has_a_whole_one_line_summary_at_80_columns(group):
    """`mlops-tui --help` lists each command by its docstring's first sentence; Click cuts one too
    long for the line with '...' ('tune  Tune LightGBM with Optuna on a dataset version; ends with a...',
    'model  The model registry: list, show, promote.' leaving out rollback and export)."""
    proc = subprocess.run(
        [sys.executable, "-m", "mlops_tui", *group, "--help"], cwd=ROOT, capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "80"},
    )
    assert proc.returncode == 0, proc.stderr
    commands = proc.stdout.split("Commands:\n", 1)[1].splitlines()
    assert len(commands) >= 2
    cut = [line.strip() for line in commands if line.rstrip().endswith("...")]
    assert cut == []
    if group == ["model"]:
        assert "rollback" in proc.stdout
    if not group:
        model_line = next(line for line in commands if line.split()[0] == "model")
        assert "roll back" in model_line and "export" in model_line


def test_every_usage_line_names_its_arguments_as_the_readme_does():
    """'Usage: mlops-tui dataset diff [OPTIONS] {a} {b}' and 'evaluate [OPTIONS] {model} {dataset}' named
    arguments by their Python parameter; the README's contract reads `dataset diff REF REF`,
    `evaluate MODEL_REF DATASET_REF`, `score DEP_OR_MODEL_REF INPUT...`."""
    import re

    import typer.main

    from mlops_tui.cli import app

    def leaves(cmd, path: tuple[str, ...]):
        if hasattr(cmd, "commands"):  # a group (Typer's own Click classes)
            for name, sub in cmd.commands.items():
                yield from leaves(sub, (*path, name))
        else:
            yield path, cmd

    root = typer.main.get_command(app)
    usages = {" ".join(path): cmd.get_usage(cmd.context_class(cmd, info_name=" ".join(path)))
              for path, cmd in leaves(root, ())}
    assert usages["dataset diff"].endswith("dataset diff [OPTIONS] {REF} {REF}")
    assert usages["evaluate"].endswith("evaluate [OPTIONS] {MODEL_REF} {DATASET_REF}")
    assert usages["score"].endswith("score [OPTIONS] {DEP_OR_MODEL_REF} {INPUT}...")
    lower = {c: u for c, u in usages.items()
             for arg in re.findall(r"[{\[]([^}\]]+)[}\]]", u.split("[OPTIONS]", 1)[-1])
             if not arg.split("|")[0].isupper()}
    assert lower == {}
