"""`report` and `evaluate`: holdout evaluations as an HTML report, a model on other labelled data
(see the README's CLI contract). Thin: parse, call ``mlops_tui.evaluation``, emit."""

from __future__ import annotations

from typing import Annotated

import typer

from mlops_tui.cli._common import JsonFlag, emit, err, fmt, out, table, workspace


def report(
    runs: Annotated[list[str], typer.Argument(metavar="RUN", help="One or more run ids (unique prefixes work).")],
    output: Annotated[str, typer.Option("--output", "-o", help="The HTML file to write.")],
    as_json: JsonFlag = False,
) -> None:
    """Write one self-contained HTML report of RUNs.

    Plots are inline SVG; the file opens offline.

    Example: mlops-tui report 3f2a 9c1d --output report.html
    """
    from mlops_tui.evaluation import report as rep

    res = rep.write_report(workspace(), runs, output)
    emit(res, as_json, lambda: out.print(f"report written to {res.output} ({len(res.sections)} sections)"))


def evaluate(
    model: Annotated[str, typer.Argument(metavar="MODEL_REF", help="Model: NAME, NAME:VERSION or NAME@ALIAS.")],
    dataset: Annotated[str, typer.Argument(metavar="DATASET_REF", help="Labelled dataset: NAME or NAME:VERSION.")],
    threshold: Annotated[float | None, typer.Option(
        "--threshold", help="Decision threshold for binary models [default: the model's].")] = None,
    unseen: Annotated[bool, typer.Option(
        "--unseen", help="Leave out the rows the model learnt from (they flatter it).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Evaluate a model on another labelled dataset version.

    The evaluation is stored beside the model's holdout figures.

    Rows the model learnt from are counted (`learnt_rows`) and flatter it; --unseen leaves them out.

    Example: mlops-tui evaluate credit@production default:2 --json
    """
    from mlops_tui.evaluation import evaluate as evaluation

    res = evaluation.evaluate_model(workspace(), model, dataset, threshold=threshold, unseen=unseen)

    def render() -> None:
        m, d = res.model, res.dataset
        out.print(f"{m.name}:{m.version} on {d.name}:{d.version} ({res.rows:,} rows)")
        out.print(table(None, ["metric", "value", "holdout", "Δ"], [
            (k, v, res.holdout_metrics.get(k), res.deltas.get(k))
            for k, v in res.metrics.items() if k in res.deltas or k not in res.holdout_metrics]))
        if res.max_slice_gap is not None:
            ends = (f": {res.max_slice_gap_best} (best) vs {res.max_slice_gap_worst} (worst)"
                    if res.max_slice_gap_best is not None else "")
            out.print(f"largest slice gap: {fmt(res.max_slice_gap)} in {res.slice_metric} between the groups "
                      f"of {res.max_slice_gap_feature}{ends}", markup=False, highlight=False)
        for w in res.warnings:
            err.print(f"warning: {w}", markup=False, soft_wrap=True)

    emit(res, as_json, render)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("evaluate")(evaluate)
