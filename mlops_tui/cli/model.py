"""`model list | show | promote | rollback | export`: the registry (see the README's CLI contract). Thin: parse, call, emit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlops_tui.cli._common import (
    GROUPS,
    JsonFlag,
    emit,
    err,
    fmt,
    out,
    styled,
    table,
    threshold_line,
    workspace,
)

if TYPE_CHECKING:
    from mlops_tui.registry.gate import Verdict
    from mlops_tui.registry.models import Promotion


def _metric_text(metrics: dict[str, Any]) -> str:
    primary = metrics.get("primary_metric")
    keys = [primary] if primary in metrics else [k for k in metrics if k != "primary_metric"][:2]
    return ", ".join(f"{k}={fmt(metrics[k])}" for k in keys if k)


def _warn_gate(res: Promotion) -> None:
    """A promoted version that fails the gate is allowed, and said so on stderr."""
    if not res.gate.passed:
        err.print(f"warning: {res.name}:{res.version} does not pass the validation gate "
                  f"({'; '.join(res.gate.reasons)}); `deploy` will refuse it without --force",
                  markup=False, soft_wrap=True)
    if res.deployments:
        err.print(f"note: deployment(s) following {res.name}@{res.alias} now serve version "
                  f"{res.version}: {', '.join(res.deployments)}", markup=False, soft_wrap=True)


def list_(
    name: Annotated[str | None, typer.Argument(metavar="NAME", help="Only this model's versions.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """All model versions with their aliases and metrics.

    Example: mlops-tui model list --json
    """
    from mlops_tui.registry import models as registry

    rows = registry.list_models(workspace(), name)

    def render() -> None:
        if not rows:
            out.print("no models yet; `mlops-tui tune DATASET` registers one")
            return
        out.print(table(None, ["model", "version", "aliases", "task", "metric", "dataset"], [
            (r.name, r.version, ", ".join(r.aliases), r.task, _metric_text(r.metrics), r.dataset) for r in rows]))

    emit(rows, as_json, render)


def show(
    ref: Annotated[str, typer.Argument(metavar="REF", help="NAME, NAME:VERSION or NAME@ALIAS.")],
    as_json: JsonFlag = False,
) -> None:
    """One model version: metrics, gate verdict, aliases, lineage.

    Also its file and checksum.

    Example: mlops-tui model show credit@production
    """
    from mlops_tui.registry import models as registry
    from mlops_tui.registry.gate import explain

    info = registry.show(workspace(), ref)

    def verdict(g: Verdict) -> str:
        if not g.passed:
            return "refused: " + "; ".join(g.reasons)
        why = explain(g.checks)
        return "pass" + (": " + "; ".join(why) if why else " (no gate checks configured)")

    def render() -> None:
        gate = info.gate
        out.print(styled((info.ref, "bold"), f"  task={info.task}  aliases={', '.join(info.aliases) or '—'}"))
        out.print(f"file      {info.path}\nsha256    {info.sha256}")
        out.print(f"run       {info.run_id or '—'}\ndataset   {info.dataset or '—'}")
        out.print(f"deployed  {', '.join(info.deployments) or '—'}")
        text = verdict(gate)
        out.print(f"gate      {'passed' + text[4:] if gate.passed else 'REFUSED: ' + text[9:]}", markup=False)
        out.print(table("metrics", ["metric", "value"],
                        [(k, v) for k, v in sorted(info.metrics.items()) if k != "primary_metric"]))
        if line := threshold_line(info.metrics):
            out.print(line, markup=False)
        out.print(table("versions (gate against production)", ["version", "aliases", "metric", "gate", "created"], [
            (v.version, ", ".join(v.aliases), _metric_text(v.metrics), verdict(v.gate), v.created_at)
            for v in info.versions]))

    emit(info, as_json, render)


def promote(
    ref: Annotated[str, typer.Argument(metavar="REF", help="The version to promote: NAME:VERSION (or NAME, NAME@ALIAS).")],
    alias: Annotated[str, typer.Option("--alias", "-a", help="Alias to move, e.g. production or staging.")],
    as_json: JsonFlag = False,
) -> None:
    """Point ALIAS at a model version.

    Roll back with `model rollback`, or by promoting the previous version.

    Example: mlops-tui model promote credit:3 --alias production
    """
    from mlops_tui.registry import models as registry

    res = registry.promote(workspace(), ref, alias)
    prev = res.previous_version
    emit(res, as_json, lambda: out.print(
        f"{res.name}@{alias} → version {res.version}"
        + (f" (was {prev})" if prev is not None and prev != res.version else "")))
    _warn_gate(res)


def rollback(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Model name.")],
    alias: Annotated[str, typer.Option("--alias", "-a", help="Alias to move back.")] = "production",
    as_json: JsonFlag = False,
) -> None:
    """Move ALIAS back to where it pointed before its latest move.

    Example: mlops-tui model rollback credit --alias production
    """
    from mlops_tui.registry import models as registry

    res = registry.rollback(workspace(), name, alias)
    emit(res, as_json, lambda: out.print(
        f"{res.name}@{alias} → version {res.version} (was {res.previous_version})"))
    _warn_gate(res)


def export(
    ref: Annotated[str, typer.Argument(metavar="REF", help="NAME, NAME:VERSION or NAME@ALIAS.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="c (C source + example main.c), onnx, or lightgbm "
                                                            "(text model + JSON sidecar).")],
    output: Annotated[str, typer.Option("--output", "-o", help="Folder to write into (created if needed).")],
    as_json: JsonFlag = False,
) -> None:
    """Write a model for use outside mlops-tui: C, ONNX or LightGBM.

    With a README of its input encoding (column order, category codes, missing values).
    c and onnx need the 'compiled' extra.

    Example: mlops-tui model export credit@production --format c --output build/credit-c
    """
    from mlops_tui.registry import export as exporter
    from mlops_tui.registry import models as registry

    ws = workspace()
    result = exporter.export(ws, registry.resolve_model(ws, ref), fmt, output)

    def render() -> None:
        out.print(f"exported {result.model} as {result.format} → {result.output}: {', '.join(result.files)}",
                  soft_wrap=True)
        if result.check:
            out.print(f"checked with {result.check['runtime']}: {exporter.diff_phrase(result.check)} "
                      f"vs LightGBM on {result.check['rows']:,} rows")

    emit(result, as_json, render)


def register(app: typer.Typer) -> None:
    group = GROUPS["model"]
    group.command("export")(export)
    group.command("list")(list_)
    group.command("show")(show)
    group.command("promote")(promote)
    group.command("rollback")(rollback)
