"""`run compare`, `report`, `evaluate` (see CLI.md). Thin: parse, call a service, emit."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mlops_tui.cli._common import GROUPS, JsonFlag, emit, err, fmt, out, table, workspace


def _delta(v: float | None) -> str:
    return "" if v is None or v == 0 else f" ({v:+.4g})"


def _short(value: Any, key: str) -> Any:
    """Hashes cut to 12 characters for the table (``--json`` has them in full)."""
    return value[:12] if key.endswith("hash") and isinstance(value, str) else value


def compare(
    runs: Annotated[list[str], typer.Argument(help="Two or more run ids (unique prefixes work).")],
    as_json: JsonFlag = False,
) -> None:
    """Runs side by side: holdout metrics (deltas to the first, best marked *), parameters, datasets.

    Example: mlops-tui run compare 3f2a 9c1d
    """
    from mlops_tui.evaluation import compare as cmp

    res = cmp.compare(workspace(), runs)

    def render() -> None:
        ids = [r["run_id"] for r in res["runs"]]
        short = [i[:8] for i in ids]
        out.print(table("runs", ["", *short], [
            (label, *(_short(r[key], key) for r in res["runs"])) for label, key in (
                ("name", "name"), ("task", "task"), ("dataset", "dataset"), ("version", "dataset_version"),
                ("hash", "dataset_hash"), ("holdout rows", "holdout_rows"), ("trials", "n_trials"),
                ("model", "model"), ("status", "status"))]))
        rows: list[list[Any]] = []
        for m, values in res["metrics"].items():
            cells = []
            for i in ids:
                v = values[i]
                mark = "*" if res["best"].get(m) == i else ""
                cells.append("—" if v is None else f"{fmt(v)}{mark}{_delta(res['deltas'][m][i])}")
            rows.append([m + (" ↓" if m in res["lower_is_better"] else ""), *cells])
        out.print(table("holdout metrics (Δ vs first, * best)", ["metric", *short], rows))
        out.print(table("parameters (differing first)", ["param", *short], [
            [p + (" ≠" if p in res["differing_params"] else ""), *(values[i] for i in ids)]
            for p, values in res["params"].items()]))
        for w in res["warnings"]:
            err.print(f"warning: {w}", markup=False, soft_wrap=True)

    emit(res, as_json, render)


def report(
    runs: Annotated[list[str], typer.Argument(help="One or more run ids (unique prefixes work).")],
    output: Annotated[str, typer.Option("--output", "-o", help="The HTML file to write.")],
    as_json: JsonFlag = False,
) -> None:
    """Write one self-contained HTML report (inline SVG plots, opens offline) for RUNs.

    Example: mlops-tui report 3f2a 9c1d --output report.html
    """
    from mlops_tui.evaluation import report as rep

    res = rep.write_report(workspace(), runs, output)
    emit(res, as_json, lambda: out.print(f"report written to {res['output']} ({len(res['sections'])} sections)"))


def evaluate(
    model: Annotated[str, typer.Argument(help="Model: NAME, NAME:VERSION or NAME@ALIAS.")],
    dataset: Annotated[str, typer.Argument(help="Labelled dataset: NAME or NAME:VERSION.")],
    threshold: Annotated[float | None, typer.Option(
        "--threshold", help="Decision threshold for binary models [default: the model's].")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Score a registered model on another labelled dataset version and store the evaluation.

    Example: mlops-tui evaluate credit@production default:2 --json
    """
    from mlops_tui.evaluation import evaluate as evaluation

    res = evaluation.evaluate_model(workspace(), model, dataset, threshold=threshold)

    def render() -> None:
        m, d = res["model"], res["dataset"]
        out.print(f"{m['name']}:{m['version']} on {d['name']}:{d['version']} ({res['rows']} rows)")
        out.print(table(None, ["metric", "value", "holdout", "Δ"], [
            (k, v, res["holdout_metrics"].get(k), res["deltas"].get(k))
            for k, v in res["metrics"].items() if k in res["deltas"] or k not in res["holdout_metrics"]]))
        if res["max_slice_gap"] is not None:
            out.print(f"largest slice gap: {fmt(res['max_slice_gap'])}")
        for w in res["warnings"]:
            err.print(f"warning: {w}", markup=False, soft_wrap=True)

    emit(res, as_json, render)


def register(app: typer.Typer) -> None:
    GROUPS["run"].command("compare")(compare)
    app.command("report")(report)
    app.command("evaluate")(evaluate)
