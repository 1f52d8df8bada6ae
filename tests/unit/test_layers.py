"""The layer contract, checked on the source: which part of the code may import which.

Read as the README's layout section says (top may import below, never the reverse):

    entry                       the console script: bare `mlops-tui` or the CLI
    cli                         headless commands: parse, call the domain, print
    screens                     the Textual workbench (cli may open it: `mlops-tui tui`)
    pipelines                   pipeline.toml: the lifecycle's stages, re-run only when their inputs change
    monitoring                  drift, feedback, retrain: a deployment's life after it scores
    serving                     batch scoring, drift measurement, the scoring-job sweep
    training.tuning             Optuna studies that end in a holdout-evaluated, registered model
    registry                    model versions, aliases, deployments, the gate, lineage
    evaluation                  holdout evaluations, their details, compare, HTML reports
    training                    prep, signature, model files, metrics (one model, no study)
    data                        readers, dataset versions, profiles
    workspace, refs, sql, ...   the shared base: the workspace, references, errors, formatting, statistics
    store                       persistence and every SQL statement (metadata and DuckDB over dataset files)

Every import counts, also one inside a function (lazy imports keep start-up light, they do not
make a wrong-way dependency right). A second test forbids import cycles among modules; there an
import under ``if TYPE_CHECKING:`` does not count, since it never runs: it is how a screen names
the app that imports it (``self.app`` typed as the Workbench), the way Textual types its own.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Folder of the repository → the import package it installs as (pyproject's package-dir).
TREES = {"mlops_tui": ROOT / "mlops_tui", "mlops_tui.screens": ROOT / "screens", "mlops_tui.store": ROOT / "store",
         "mlops_tui.sample_data": ROOT / "sample_data"}

# Highest first. A module belongs to the longest prefix that names it; the base holds the rest
# of the top-level modules of mlops_tui.
LAYERS: list[tuple[str, ...]] = [
    ("mlops_tui.entry", "mlops_tui.__main__"),
    ("mlops_tui.cli",),
    ("mlops_tui.screens",),
    ("mlops_tui.pipelines",),
    ("mlops_tui.monitoring",),
    ("mlops_tui.serving",),
    ("mlops_tui.training.tuning",),
    ("mlops_tui.registry",),
    ("mlops_tui.evaluation",),
    ("mlops_tui.training",),
    ("mlops_tui.data",),
    ("mlops_tui",),  # workspace, refs, errors, sql, formatting, processes, results, extras, stats, sample data
    ("mlops_tui.store",),
]


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for package, folder in TREES.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
                continue
            name = ".".join([package, *parts])
            if package == "mlops_tui" and parts[:1] in (["screens"], ["store"], ["sample_data"]):
                continue  # not part of this tree (installed from the top-level folders)
            out[name] = path
    return out


MODULES = _modules()


def _type_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (read by the type checker, never run)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            found |= {id(n) for stmt in node.body for n in ast.walk(stmt) if isinstance(n, ast.Import | ast.ImportFrom)}
    return found


def _imports(name: str, path: Path) -> list[tuple[int, str, bool]]:
    """(line, module, type_only) for every project module ``name`` imports, at any depth of the file."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    type_only = _type_only(tree)
    found: list[tuple[int, str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import sub` imports the submodule; `from mod import name` the module.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        found += [(node.lineno, t, id(node) in type_only) for t in targets if t in MODULES]
    return found


def layer_of(module: str) -> int:
    best, best_len = len(LAYERS), -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}

def test_every_module_has_a_layer():
    assert [m for m in MODULES if layer_of(m) == len(LAYERS)] == []


def test_each_layer_imports_only_the_layers_below_it():
    wrong = []
    for name, imports in GRAPH.items():
        for line, target, _ in imports:
            if layer_of(target) < layer_of(name):
                wrong.append(f"{MODULES[name].relative_to(ROOT)}:{line} imports {target}")
    assert wrong == []


def test_no_import_cycle_among_modules():
    edges = {name: {t for _, t, type_only in imports if t != name and not type_only}
             for name, imports in GRAPH.items()}
    # A package's __init__ importing its own submodules is how packages work; the reverse edge
    # (a submodule importing its package's __init__) is what makes a cycle, and is kept.
    for name in edges:
        edges[name] = {t for t in edges[name] if not t.startswith(name + ".")}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    assert cycles == []


def test_pyproject_lists_every_package_of_the_tree():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    assert packages - set(config["packages"]) == set()
