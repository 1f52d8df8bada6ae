"""`monitor`, `feedback`, `retrain`, `lineage`, `sql`, `audit` and `run reproduce` (see ../shared/CLI.md).

Thin: parse, call a service in mlops_tui/ (monitoring, lineage, sql), emit JSON or a table.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mlops_tui.cli._common import JsonFlag, emit, fmt, out, table, workspace

STATUS_STYLE = {"ok": "green", "warn": "yellow", "alert": "bold red", None: "dim"}


def _status(value: str | None) -> str:
    return f"[{STATUS_STYLE.get(value, 'dim')}]{value or '—'}[/]"


# -- sql / audit / lineage ---------------------------------------------------------------------
def sql(
    query: Annotated[str, typer.Argument(help="One SELECT statement over the views below.")],
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most rows to return.")] = 1000,
    as_json: JsonFlag = False,
) -> None:
    """Read-only SQL over the metadata views; writes are refused (exit 1).

    Views (columns): v_datasets(name, version, hash, rows, columns, target, task, source,
    created_at); v_runs(run_id, name, dataset, dataset_version, target, task, metric, direction,
    status, best_value, n_trials_requested, model_name, model_version, created_at, ended_at);
    v_trials(run_id, number, state, value, params_json, duration_s, pid, host, ended_at);
    v_models(name, version, run_id, task, dataset, dataset_version, sha256, metrics_json,
    created_at, aliases); v_deployments(name, model_name, model_version, forced, created_at,
    updated_at); v_jobs(job_id, deployment, model_name, model_version, rows_in, rows_out, seconds,
    rows_per_s, status, error, drift_status, created_at); v_drift(job_id, feature, kind, psi,
    ks_stat, ks_pvalue, null_rate_ref, null_rate_cur, new_categories, status); v_audit(event_id,
    happened_at, user_name, host, command, object, outcome, details_json). JSON columns work with
    json_extract(metrics_json, '$.rmse').

    Example: mlops-tui sql "SELECT feature, count(*) FROM v_drift WHERE status = 'alert' GROUP BY ALL"
    """
    from mlops_tui import sql as sql_service

    res = sql_service.run(workspace(), query, limit=limit)

    def render() -> None:
        out.print(table(None, res["columns"], res["rows"]))
        more = " (more rows exist; raise --limit)" if res["truncated"] else ""
        out.print(f"{res['row_count']} row(s){more}")

    emit(res, as_json, render)


def audit(
    obj: Annotated[str | None, typer.Option("--object", "-o", help="Only objects starting with this, e.g. model:credit.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most events to show.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """The append-only audit trail, newest first: time, user, host, command, object, outcome.

    Example: mlops-tui audit --object deployment:bikes --limit 20
    """
    from mlops_tui import lineage

    rows = lineage.events(workspace(), obj, limit)

    def render() -> None:
        if not rows:
            out.print("no audit events yet")
            return
        out.print(table(None, ["at", "user", "host", "command", "object", "outcome"],
                        [(r["at"], r["user"], r["host"], r["command"], r["object"], r["outcome"]) for r in rows]))

    emit(rows, as_json, render)


def lineage_cmd(
    ref: Annotated[str, typer.Argument(help="A dataset (NAME[:V]), run id, model (NAME[:V|@ALIAS]), deployment or "
                                            "job id; prefix with KIND: to disambiguate, e.g. dataset:bikes.")],
    as_json: JsonFlag = False,
) -> None:
    """Where an object came from and what was made from it: data → run → model → deployment → jobs.

    Example: mlops-tui lineage bikeshare@production --json
    """
    from mlops_tui import lineage

    res = lineage.lineage(workspace(), ref)

    def render() -> None:
        from rich.markup import escape
        from rich.text import Text
        from rich.tree import Tree

        nodes = {n["id"]: n for n in res["nodes"]}
        # Show each node once, under one parent: a job under its deployment when it has one.
        parent: dict[str, tuple[str, str]] = {}
        for e in res["edges"]:
            if e["to"] not in parent or nodes[e["from"]]["kind"] == "deployment":
                parent[e["to"]] = (e["from"], e["relation"])
        children: dict[str, list[tuple[str, str]]] = {}
        for child, (src, rel) in parent.items():
            children.setdefault(src, []).append((child, rel))
        has_parent = set(parent)

        def label(node_id: str, relation: str | None = None) -> Text:
            n = nodes[node_id]
            extra = {"dataset": f"{n.get('rows')} rows", "run": f"{n.get('status')} {n.get('metric')}="
                     f"{fmt(n.get('best_value'))}", "model": ", ".join(n.get("aliases") or []),
                     "deployment": f"serves {n.get('model')}", "job": f"{n.get('status')} {n.get('rows')} rows "
                     f"drift {n.get('drift_status') or '—'}"}.get(n["kind"], "")
            mark = "[bold]" if node_id == res["root"] else ""
            rel = f"[dim]{relation}[/] " if relation else ""
            return Text.from_markup(f"{rel}{mark}{n['kind']} {escape(n['label'])}{'[/]' if mark else ''}  "
                                    f"[dim]{escape(extra)}[/]", emoji=False)

        def grow(tree: Tree, node_id: str, relation: str | None, seen: set[str]) -> None:
            branch = tree.add(label(node_id, relation))
            if node_id in seen:
                return
            seen.add(node_id)
            for child, rel in children.get(node_id, []):
                grow(branch, child, rel, seen)

        tree = Tree(Text(f"lineage of {res['root']}"))
        seen: set[str] = set()
        for top in [n["id"] for n in res["nodes"] if n["id"] not in has_parent]:
            grow(tree, top, None, seen)
        out.print(tree)

    emit(res, as_json, render)


def register(app: typer.Typer) -> None:
    app.command("sql")(sql)
    app.command("audit")(audit)
    app.command("lineage")(lineage_cmd)
