"""`lineage`: where an object came from and what was made from it (see the README's CLI contract).
Thin: parse, call ``mlops_tui.registry.lineage``, print a tree or JSON."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from mlops_tui.cli._common import JsonFlag, emit, fmt, out, workspace
from mlops_tui.serving.sweep import sweep_jobs

# How a second parent edge reads on its child in the lineage tree.
ALSO = {"created": "created by", "retrained_as": "retrain of", "scored": "scored by", "trained_on": "trained on", "produced": "produced by",
        "serves": "served by"}



def lineage_cmd(
    ref: Annotated[str, typer.Argument(metavar="REF", help="A dataset (NAME[:V]), run id, model (NAME[:V|@ALIAS]), deployment or "
                                            "job id; prefix with KIND: to disambiguate, e.g. dataset:bikes.")],
    as_json: JsonFlag = False,
) -> None:
    """Where an object came from and what was made from it.

    data → run → model → deployment → jobs.

    Example: mlops-tui lineage bikeshare@production --json
    """
    from mlops_tui.registry import lineage

    ws = workspace()
    sweep_jobs(ws)
    res = lineage.lineage(ws, ref)

    def render() -> None:
        from rich.markup import escape
        from rich.tree import Tree

        nodes = {n["id"]: n for n in res.nodes}

        def preferred(src: dict[str, Any], dst: dict[str, Any]) -> bool:
            # A job sits under its deployment only while the deployment still serves the model
            # that scored it; after a retrain it stays under the model that really scored it.
            return src["kind"] == "deployment" and dst["kind"] == "job" and src.get("model") == dst.get("model")

        # Show each node once, under one parent.
        parent: dict[str, tuple[str, str]] = {}
        for e in res.edges:
            if e.to not in parent or preferred(nodes[e.from_], nodes[e.to]):
                parent[e.to] = (e.from_, e.relation)
        children: dict[str, list[tuple[str, str]]] = {}
        for child, (src, rel) in parent.items():
            children.setdefault(src, []).append((child, rel))
        has_parent = set(parent)

        # Edges the tree cannot show (a node has one place in it) are named on the child, so the
        # tree never hides e.g. that a job under its deployment was scored by an older model.
        also: dict[str, list[str]] = {}
        for e in res.edges:
            if parent.get(e.to, (None,))[0] != e.from_:
                src = nodes[e.from_]
                verb = "via" if src["kind"] == "deployment" else ALSO.get(e.relation, e.relation)
                also.setdefault(e.to, []).append(f"{verb} {src['kind']} {src['label']}")

        def label(node_id: str, relation: str | None = None) -> Text:
            n = nodes[node_id]
            extra = {"pipeline": f"{n.get('pipeline')} {n.get('status')} ({n.get('trigger')})",
                     "dataset": f"{n.get('rows')} rows", "run": f"{n.get('status')} {n.get('metric')}="
                     f"{fmt(n.get('best_value'))}", "model": ", ".join(n.get("aliases") or []),
                     "deployment": f"serves {n.get('model')}", "job": f"{n.get('status')} {n.get('rows')} rows "
                     f"drift {n.get('drift_status') or '—'}"}.get(n["kind"], "")
            mark = "[bold]" if node_id == res.root else ""
            rel = f"[dim]{relation}[/] " if relation else ""
            more = "".join(f"  [italic]{escape(a)}[/]" for a in also.get(node_id, []))
            return Text.from_markup(f"{rel}{mark}{n['kind']} {escape(n['label'])}{'[/]' if mark else ''}  "
                                    f"[dim]{escape(extra)}[/]{more}", emoji=False)

        def grow(tree: Tree, node_id: str, relation: str | None, seen: set[str]) -> None:
            branch = tree.add(label(node_id, relation))
            if node_id in seen:
                return
            seen.add(node_id)
            for child, rel in children.get(node_id, []):
                grow(branch, child, rel, seen)

        tree = Tree(Text(f"lineage of {res.root}"))
        seen: set[str] = set()
        for top in [n["id"] for n in res.nodes if n["id"] not in has_parent]:
            grow(tree, top, None, seen)
        out.print(tree)

    emit(res, as_json, render)


def register(app: typer.Typer) -> None:
    app.command("lineage")(lineage_cmd)
