"""Lineage: dataset version → run → model version → deployment → scoring jobs, and back.

A pipeline run (`mlops-tui pipeline run`) is a node too, linked to each object its stages created.

The graph is assembled from the store's typed records (no extra tables: each record already
names its parent). ``lineage(ws, ref)`` returns the part of it connected to one object: everything
upstream of it (what it was made from) and everything downstream (what was made from it).
Deployments are pointers that move between model versions, so they are never walked *through*
upstream: a job scored by version 1 stays linked to version 1, not to the version the
deployment serves today.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_tui.errors import UserError
from mlops_tui.results import Result

if TYPE_CHECKING:
    from mlops_tui.store import AuditEvent
    from mlops_tui.workspace import Workspace

KINDS = ("pipeline", "dataset", "run", "model", "deployment", "job")

# What each kind of pipeline stage creates: (output key, node kind) of its recorded outputs.
CREATED = {"data": [("dataset", "dataset")], "tune": [("run_id", "run"), ("model", "model")],
           "deploy": [("deployment", "deployment")], "score": [("job_id", "job")]}

Node = dict[str, Any]
"""``id``, ``kind``, ``label`` and the few fields of its kind (a dataset's rows, a run's status, ...)."""


@dataclass(frozen=True)
class Edge(Result):
    from_: str
    to: str
    relation: str


@dataclass(frozen=True)
class Lineage(Result):
    """The part of the graph connected to ``root``: upstream, downstream, and their edges."""

    root: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)
    children: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    parents: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def node(self, node_id: str, kind: str, label: str, **info: Any) -> None:
        self.nodes.setdefault(node_id, {"id": node_id, "kind": kind, "label": label, **info})

    def edge(self, src: str, dst: str, relation: str) -> None:
        if src in self.nodes and dst in self.nodes:
            self.edges.append((src, dst, relation))
            self.children[src].append(dst)
            self.parents[dst].append(src)


def build(ws: Workspace) -> Graph:
    """The whole workspace's lineage graph."""
    g = Graph()
    s = ws.store
    for dv_latest in s.datasets.latest():
        for dv in s.datasets.versions(dv_latest.name):
            g.node(f"dataset:{dv.ref}", "dataset", dv.ref, rows=dv.rows, hash=dv.hash, created_at=dv.created_at)
    runs = s.runs.list()
    for r in runs:
        g.node(f"run:{r.run_id}", "run", r.run_id, name=r.name, status=r.status, metric=r.metric,
               best_value=r.best_value, created_at=r.created_at)
    models = s.models.list()
    for m in models:
        g.node(f"model:{m.ref}", "model", m.ref, aliases=list(m.aliases), metrics=m.metrics or {},
               created_at=m.created_at)
    deployments = s.models.deployments()
    for d in deployments:
        g.node(f"deployment:{d.name}", "deployment", d.name, model=f"{d.model_name}:{d.model_version}",
               forced=d.forced, updated_at=d.updated_at)
    jobs = s.jobs.list()
    for j in jobs:
        g.node(f"job:{j.job_id}", "job", j.job_id, status=j.status, drift_status=j.drift_status,
               rows=j.rows_out, model=f"{j.model_name}:{j.model_version}", deployment=j.deployment,
               created_at=j.created_at)
    for r in runs:
        g.edge(f"dataset:{r.dataset}:{r.dataset_version}", f"run:{r.run_id}", "trained_on")
        if r.config.get("retrain_of"):  # a retrain run reuses its champion's configuration
            g.edge(f"model:{r.config['retrain_of']}", f"run:{r.run_id}", "retrained_as")
    for m in models:
        if m.run_id and f"run:{m.run_id}" in g.nodes:
            g.edge(f"run:{m.run_id}", f"model:{m.ref}", "produced")
        elif m.dataset:
            g.edge(f"dataset:{m.dataset}:{m.dataset_version}", f"model:{m.ref}", "trained_on")
    for d in deployments:
        g.edge(f"model:{d.model_name}:{d.model_version}", f"deployment:{d.name}", "serves")
    for j in jobs:
        g.edge(f"model:{j.model_name}:{j.model_version}", f"job:{j.job_id}", "scored")
        if j.deployment:
            g.edge(f"deployment:{j.deployment}", f"job:{j.job_id}", "scored")
    _pipeline_runs(ws, g)
    return g


def _pipeline_runs(ws: Workspace, g: Graph) -> None:
    """A node per pipeline run, with a ``created`` edge to every object a stage of it made (ran)."""
    for p in ws.store.pipelines.list(limit=None):
        g.node(f"pipeline:{p.run_id}", "pipeline", p.run_id, pipeline=p.pipeline, status=p.status,
               trigger=p.trigger, created_at=p.started_at)
    for s in ws.store.pipelines.stages():
        if s.status != "ran":
            continue
        for key, kind in CREATED.get(s.kind, []):
            if s.outputs.get(key) is not None:
                g.edge(f"pipeline:{s.run_id}", f"{kind}:{s.outputs[key]}", "created")


def resolve(ws: Workspace, g: Graph, ref: str) -> str:
    """A node id for what the user typed: KIND:... explicitly, else deployment, model, dataset,
    run (id prefix), job (id prefix), in that order."""
    from mlops_tui.registry import models as registry

    kind, _, rest = ref.partition(":")
    if kind in KINDS and rest:
        candidates = {"dataset": [f"dataset:{rest}"], "model": [f"model:{rest}"],
                      "deployment": [f"deployment:{rest}"]}.get(kind, [])
        if kind in ("run", "job", "pipeline"):
            candidates = [n for n in g.nodes if n.startswith(f"{kind}:{rest}")]
        if kind == "model" and f"model:{rest}" not in g.nodes:
            candidates = [f"model:{registry.resolve_model(ws, rest).ref}"]
        if kind == "dataset" and ":" not in rest:
            candidates = _latest(g, "dataset", rest)
        found = [c for c in candidates if c in g.nodes]
        if len(found) == 1:
            return found[0]
        raise UserError(f"{ref!r} is ambiguous" if found else f"nothing in the workspace matches {ref!r}")
    if f"deployment:{ref}" in g.nodes:
        return f"deployment:{ref}"
    try:
        return f"model:{registry.resolve_model(ws, ref).ref}"
    except UserError:
        pass
    if f"dataset:{ref}" in g.nodes:
        return f"dataset:{ref}"
    latest = _latest(g, "dataset", ref)
    if latest:
        return latest[0]
    for prefix in ("run", "job", "pipeline"):
        found = [n for n in g.nodes if n.startswith(f"{prefix}:{ref}")]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise UserError(f"{prefix} id prefix {ref!r} is ambiguous ({len(found)} matches)")
    raise UserError(f"nothing in the workspace matches {ref!r} (dataset, run, model, deployment, job or pipeline run)")


def _latest(g: Graph, kind: str, name: str) -> list[str]:
    versions = [n for n, info in g.nodes.items()
                if info["kind"] == kind and info["label"].rsplit(":", 1)[0] == name]
    return sorted(versions, key=lambda n: int(n.rsplit(":", 1)[1]), reverse=True)[:1]


def _walk(start: list[str], step: Any, stop: Any = lambda n: False) -> set[str]:
    seen, todo = set(start), list(start)
    while todo:
        node = todo.pop()
        if stop(node):
            continue
        for nxt in step(node):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def lineage(ws: Workspace, ref: str) -> Lineage:
    """Upstream and downstream of ``ref``."""
    g = build(ws)
    root = resolve(ws, g, ref)

    def is_pointer(n: str) -> bool:  # never walk upstream through a deployment other than the root
        return n != root and g.nodes[n]["kind"] == "deployment"

    def forward(n: str) -> list[str]:
        # From a deployment only the root fans out to its jobs; a model reaches its own jobs.
        if g.nodes[n]["kind"] == "deployment" and n != root:
            return []
        return g.children[n]

    down = _walk([root], forward)
    up = _walk([root], lambda n: g.parents[n], is_pointer)
    jobs = [n for n in down if g.nodes[n]["kind"] == "job"]
    up |= _walk(jobs, lambda n: [p for p in g.parents[n] if g.nodes[p]["kind"] != "deployment"])
    keep = up | down
    keep |= {p for n in keep if g.nodes[n]["kind"] == "run" for p in g.parents[n] if g.nodes[p]["kind"] == "dataset"}
    order = {k: i for i, k in enumerate(KINDS)}
    nodes = sorted((g.nodes[n] for n in keep), key=lambda x: (order[x["kind"]], str(x.get("created_at")), x["id"]))
    edges = tuple(Edge(a, b, rel) for a, b, rel in g.edges if a in keep and b in keep)
    return Lineage(root, tuple(nodes), edges)


def events(ws: Workspace, obj: str | None = None, limit: int = 200) -> list[AuditEvent]:
    """Audit events, newest first, optionally for one object prefix (e.g. 'model:credit')."""
    return ws.store.audit.events(obj=obj, limit=limit)
