"""`dataset add/list/show/head/diff/validate` (see the README's CLI contract). Thin: parse, call
``mlops_tui.data.datasets``, emit."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mlops_tui.cli._common import GROUPS, JsonFlag, emit, err, fmt, interactive, out, table, workspace
from mlops_tui.errors import UserError


def _summary(dv: Any) -> dict[str, Any]:
    return {"name": dv.name, "version": dv.version, "rows": dv.rows, "columns": dv.columns,
            "hash": dv.hash, "target": dv.target, "task": dv.task, "source": dv.source,
            "description": dv.description, "created_at": dv.created_at}


def add(
    path: Annotated[str, typer.Argument(metavar="PATH", help="CSV or Parquet file, or a glob of Parquet files (quote it).")],
    name: Annotated[str | None, typer.Option("--name", help="Dataset name [default: the file's stem].")] = None,
    target: Annotated[str | None, typer.Option("--target", help="The column to predict.")] = None,
    description: Annotated[str | None, typer.Option("--description", help="A note shown in lists.")] = None,
    categorical: Annotated[list[str] | None, typer.Option(
        "--categorical", help="Column(s) of codes to learn as categories, not quantities, e.g. --categorical "
                              "origin,rating [default: the latest version's].")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a CSV/Parquet file as a new dataset version.

    The same content is the same version.

    Example: mlops-tui dataset add sample_data/penguins.csv --target species
    """
    from mlops_tui.data import datasets, readers

    try:
        ws = workspace()
    except UserError:
        # No workspace yet: check the file first so bad input does not leave an empty workspace.
        readers.read_file_info(path)
        ws = workspace(create=True)
    if interactive():  # a person waiting on a big file; scripts get only the one-line result
        err.print(f"reading {path} …")
    cats = None if categorical is None else [c.strip() for k in categorical for c in k.split(",") if c.strip()]
    dv, new, warnings = datasets.add_with_warnings(ws, path, name=name, target=target, description=description,
                                                   categorical=cats)
    for w in warnings:
        err.print(f"warning: {w}", markup=False)
    payload = {**_summary(dv), "new": new, "warnings": warnings}
    emit(payload, as_json, lambda: out.print(
        f"{'registered' if new else 'already registered as'} {dv.ref}: {dv.rows:,} rows × {dv.columns} columns"
        + (f", target {dv.target} ({dv.task or 'no task'})" if dv.target else "")
        + f"  hash {dv.hash[:12]}"
    ))


def list_(as_json: JsonFlag = False) -> None:
    """All datasets, latest version each.

    Example: mlops-tui dataset list --json
    """
    ws = workspace()
    items = [_summary(dv) for dv in ws.store.datasets.latest()]
    keys = ["name", "version", "rows", "columns", "target", "task", "created_at"]
    emit(items, as_json, lambda: out.print(
        table(None, keys, [[d[k] for k in keys] for d in items]) if items else "no datasets yet; try `mlops-tui dataset add FILE`"
    ))


def show(
    ref: Annotated[str, typer.Argument(metavar="REF", help="NAME (latest) or NAME:VERSION.")],
    as_json: JsonFlag = False,
) -> None:
    """Schema and per-column profile of a dataset version.

    Example: mlops-tui dataset show penguins:1
    """
    from mlops_tui.data import datasets
    from mlops_tui.formatting import as_stored, dtype_text, year_like

    ws = workspace()
    dv = datasets.resolve(ws, ref)
    payload = {**_summary(dv), "schema": dv.schema, "profile": dv.profile,
               "versions": [v.version for v in ws.store.datasets.versions(dv.name)]}

    def render() -> None:
        out.print(f"{dv.ref}  {dv.rows:,} rows × {dv.columns} columns  target {fmt(dv.target)} ({fmt(dv.task)})"
                  f"  hash {dv.hash[:12]}\nsource {dv.source}")
        headers = ["column", "dtype", "role", "nulls", "distinct", "min", "max", "mean", "std", "top values"]
        keep = len(headers) if out.width >= 120 else 8  # narrow terminal: std and top values go
        rows = []
        for col in dv.schema:
            p = dv.profile.get(col["name"], {})
            # "value (count)": a count after a colon read as part of a time ("10/25/1995 0:00:00:26")
            top = ", ".join(f"{_clipped(v, 24)} ({n:,})" for v, n in p.get("top", [])[:3])
            # a whole-number column's ends as stored: a year reads 1952, not the figure 1,952
            lo, hi = (_clipped(p.get(k)) if p.get("kind") != "numeric" or col["dtype"].startswith(("Int", "UInt"))
                      else p.get(k) for k in ("min", "max"))
            rows.append([col["name"], dtype_text(col["dtype"]), col["role"], p.get("nulls"), p.get("distinct"),
                         lo, hi, as_stored(p["mean"]) if year_like(p.get("min"), p.get("max")) else p.get("mean"),
                         p.get("std"), top][:keep])
        out.print(table(None, headers[:keep], rows))

    emit(payload, as_json, render)


CELL_TEXT = 40  # characters of a text value in a table cell (the JSON keeps it whole)


def _clipped(value: object, width: int = CELL_TEXT) -> str:
    """A value for a table cell, as stored, a long text clipped with an ellipsis: modeldata's food
    reviews (up to 3,000 characters each) made `dataset show` a screen of wrapped review per column."""
    from mlops_tui.formatting import as_stored

    text = as_stored(value)
    if len(text) <= width and "\n" not in text:
        return text
    text = " ".join(text.split())  # line breaks and runs of spaces of a review
    return text if len(text) <= width else text[:width - 1].rstrip() + "…"


def head(
    ref: Annotated[str, typer.Argument(metavar="REF", help="NAME (latest) or NAME:VERSION.")],
    rows: Annotated[int, typer.Option("--rows", "-n", min=0, help="How many rows.")] = 10,
    as_json: JsonFlag = False,
) -> None:
    """The first rows of a dataset version.

    Example: mlops-tui dataset head bikeshare --rows 5
    """
    from mlops_tui.data import datasets

    ws = workspace()
    dv = datasets.resolve(ws, ref)
    columns, data = datasets.page(ws, dv, 0, rows)
    emit({"name": dv.name, "version": dv.version, "columns": columns, "rows": [list(r) for r in data]},
         as_json, lambda: out.print(table(dv.ref, columns, [[_clipped(v) for v in row] for row in data])))


def diff(
    a: Annotated[str, typer.Argument(metavar="REF", help="The reference version, e.g. bikeshare:1.")],
    b: Annotated[str, typer.Argument(metavar="REF", help="The version to compare, e.g. bikeshare:2.")],
    as_json: JsonFlag = False,
) -> None:
    """Schema changes and per-column drift between two versions.

    Drift is PSI for numbers, the shift of shares for categories.

    Example: mlops-tui dataset diff bikeshare:1 bikeshare:2
    """
    from mlops_tui.data import comparison

    ws = workspace()
    result = comparison.diff(ws, a, b)

    def render() -> None:
        out.print(f"{result.a} → {result.b}: rows {result.rows.a:,} → {result.rows.b:,}")
        out.print(f"added: {', '.join(result.added) or '—'}   removed: {', '.join(result.removed) or '—'}")
        for r in result.renamed:
            out.print(f"renamed?: {r.from_} → {r.to} (a close name of a compatible type)")
        for c in result.changed:
            out.print(f"retyped: {c.name} {c.from_} → {c.to}")
        out.print(table(None, ["column", "kind", "psi", "status", "detail"],
                        [[d.column, d.kind, d.psi, d.status, d.detail] for d in result.drift]))

    emit(result, as_json, render)


def validate(
    ref: Annotated[str, typer.Argument(metavar="REF", help="The version whose schema is the contract.")],
    path: Annotated[str, typer.Argument(metavar="PATH", help="The CSV/Parquet file to check.")],
    as_json: JsonFlag = False,
) -> None:
    """Check a file against a version's schema contract.

    Every problem is listed (exit 1 if any).

    Example: mlops-tui dataset validate penguins:1 new_penguins.csv
    """
    from mlops_tui.data import validation

    ws = workspace()
    result = validation.validate(ws, ref, path)

    def render() -> None:
        if result.ok:
            out.print(f"{path} matches {result.ref} ({result.rows:,} rows)")
        for p in result.problems:
            out.print(f"problem: {p}")
        for w in result.warnings:
            out.print(f"warning: {w}")

    emit(result, as_json, render)
    if not result.ok:
        # After the report: exit 1 with one line (the JSON document above stays the only stdout).
        raise UserError(f"{path} does not match {result.ref}: {len(result.problems)} problem(s)")


def register(app: typer.Typer) -> None:
    group = GROUPS["dataset"]
    group.command("add")(add)
    group.command("list")(list_)
    group.command("show")(show)
    group.command("head")(head)
    group.command("diff")(diff)
    group.command("validate")(validate)
