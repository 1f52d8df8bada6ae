"""Reading and checking a pipeline file (`pipeline.toml`) before anything runs.

    [pipelines.penguins.stages.prepare]
    kind = "data"
    path = "data/penguins.csv"
    target = "species"

    [pipelines.penguins.stages.train]
    kind = "tune"
    data = "prepare"            # a reference to another stage, by name
    trials = 20

A file holds one or more pipelines; each stage has a ``kind`` (one of :data:`KINDS`) and that
command's options under the names of its CLI flags (underscores for dashes). Stages refer to each
other by name (and ``after = [...]`` orders a stage after others); the order they run in is the
dependency order, ties broken by their order in the file. A promote or deploy stage of a model also waits for every gate of that model, so a refusing
gate always stops it. Relative paths are relative to the file's folder.

Every problem (unknown kind or key, a value of the wrong type, a missing or unknown reference, a
cycle) is one :class:`UserError` line naming the file, pipeline, stage and key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_tui.errors import UserError

FILE_NAME = "pipeline.toml"

# Per kind: option -> its type. "ref:KIND" names a stage of that kind, "refs:KIND" one or a list;
# "path" / "paths" are files relative to the pipeline file; "number" is an int or a float.
KINDS: dict[str, dict[str, str]] = {
    "data": {"path": "path", "name": "str", "target": "str", "description": "str", "categorical": "strs"},
    "tune": {"data": "ref:data", "target": "str", "task": "str", "metric": "str", "trials": "int",
             "timeout": "number", "jobs": "int", "seed": "int", "split_seed": "int", "time_column": "str",
             "group_column": "str", "space": "path", "name": "str", "threshold_for": "str"},
    "evaluate": {"model": "ref:tune", "data": "refs:data"},
    "gate": {"model": "ref:tune", "min_metric": "numbers", "max_drop": "number|numbers", "max_slice_gap": "number",
             "require_win": "bool"},
    "promote": {"model": "ref:tune", "alias": "str"},
    "deploy": {"model": "ref:tune", "name": "str", "engine": "str", "output_dir": "path"},
    "score": {"deployment": "ref:deploy", "inputs": "paths", "output": "path", "keep": "strs"},
}
# Any stage may also wait for others it does not take outputs from (e.g. score after promote).
COMMON = {"after": "refs:*"}
REQUIRED = {"data": ("path",), "tune": ("data",), "evaluate": ("model", "data"), "gate": ("model",),
            "promote": ("model",), "deploy": ("model", "name"), "score": ("deployment", "inputs", "output")}
CHOICES = {"task": ("auto", "binary", "multiclass", "regression"), "engine": ("local", "compiled")}


@dataclass(frozen=True)
class Stage:
    name: str
    kind: str
    options: dict[str, Any]  # as written in the file (stage references included), without `kind`
    after: tuple[str, ...] = ()  # every stage this one waits for: its references and its model's gates

    def refs(self, key: str) -> list[str]:
        """The stage names option ``key`` refers to (a single name or a list)."""
        value = self.options.get(key)
        return [] if value is None else [value] if isinstance(value, str) else list(value)


@dataclass(frozen=True)
class Pipeline:
    name: str
    file: Path
    stages: list[Stage] = field(default_factory=list)  # in the order they run

    @property
    def base(self) -> Path:
        return self.file.parent

    def path(self, text: str) -> Path:
        """A path option as the stage means it: relative to the pipeline file's folder."""
        p = Path(text).expanduser()
        return p if p.is_absolute() else self.base / p


def find_file(workspace_root: Path, explicit: str | None = None,
              last_run: Callable[[], str | None] | None = None) -> Path:
    """``--file``, else ./pipeline.toml, else <workspace>/pipeline.toml, else the file of the
    workspace's latest pipeline run (``last_run``, asked only then): a cron job runs the project's
    pipeline in its folder, and its user opens the workbench or asks `pipeline status` from another."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise UserError(f"pipeline file {path} does not exist")
        return path.resolve()
    for candidate in (Path.cwd() / FILE_NAME, workspace_root / FILE_NAME):
        if candidate.is_file():
            return candidate.resolve()
    recorded = last_run() if last_run else None
    if recorded and Path(recorded).is_file():
        return Path(recorded)
    raise UserError(f"no {FILE_NAME} in {Path.cwd()} or in the workspace {workspace_root}; pass --file FILE")


def names(file: Path) -> list[str]:
    """The pipelines a file declares, in file order."""
    return list(_pipelines(file, _read(file)))


def load(file: Path, name: str | None = None) -> Pipeline:
    """Pipeline ``name`` of ``file`` (may be omitted when the file holds one), fully checked."""
    pipelines = _pipelines(file, _read(file))
    if name is None:
        if len(pipelines) != 1:
            raise UserError(f"{file} holds {len(pipelines)} pipelines ({', '.join(pipelines)}); name one")
        name = next(iter(pipelines))
    if name not in pipelines:
        raise UserError(f"{file} has no pipeline {name!r} (it has: {', '.join(pipelines) or 'none'})")
    where = f"{file}: pipeline {name}"
    body = pipelines[name]
    if not isinstance(body, dict) or set(body) - {"stages", "description"}:
        extra = sorted(set(body) - {"stages", "description"}) if isinstance(body, dict) else ["(not a table)"]
        raise UserError(f"{where}: unknown key {extra[0]!r} (a pipeline holds [pipelines.{name}.stages.NAME] tables)")
    tables = body.get("stages")
    if not isinstance(tables, dict) or not tables:
        raise UserError(f"{where}: no stages (add [pipelines.{name}.stages.NAME] tables with a kind)")
    stages = {s: _stage(where, s, t) for s, t in tables.items()}
    for stage in stages.values():
        _check_refs(where, stage, stages)
    return Pipeline(name, file, _ordered(where, stages))


def _read(file: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(file.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read pipeline file {file}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{file}: not valid TOML: {exc}") from exc


def _pipelines(file: Path, doc: dict[str, Any]) -> dict[str, Any]:
    extra = sorted(set(doc) - {"pipelines"})
    if extra:
        raise UserError(f"{file}: unknown top-level key {extra[0]!r} (pipelines go in [pipelines.NAME] tables)")
    pipelines = doc.get("pipelines")
    if not isinstance(pipelines, dict) or not pipelines:
        raise UserError(f"{file}: no pipelines (add a [pipelines.NAME.stages.STAGE] table)")
    return pipelines


def _stage(where: str, name: str, table: Any) -> Stage:
    here = f"{where}, stage {name}"
    if not isinstance(table, dict):
        raise UserError(f"{here}: must be a table with a kind")
    kind = table.get("kind")
    if kind is None:
        raise UserError(f"{here}, key kind: missing (one of {', '.join(KINDS)})")
    if kind not in KINDS:
        raise UserError(f"{here}, key kind: unknown kind {kind!r} (one of {', '.join(KINDS)})")
    options = {k: v for k, v in table.items() if k != "kind"}
    known = {**KINDS[kind], **COMMON}
    for key, value in options.items():
        if key not in known:
            raise UserError(f"{here}, key {key}: unknown option of a {kind} stage "
                            f"(known: {', '.join(known)})")
        problem = _type_problem(known[key], value)
        if problem is None and key in CHOICES and value not in CHOICES[key]:
            problem = f"{value!r} is not one of {', '.join(CHOICES[key])}"
        if problem:
            raise UserError(f"{here}, key {key}: {problem}")
    for key in REQUIRED[kind]:
        if key not in options:
            raise UserError(f"{here}, key {key}: missing (a {kind} stage needs {', '.join(REQUIRED[kind])})")
    return Stage(name, kind, options)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _type_problem(kind: str, value: Any) -> str | None:
    """None if ``value`` fits option type ``kind``, else what is wrong with it."""
    def strs(v: Any) -> bool:
        return isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))

    ok: dict[str, Callable[[Any], bool]] = {
        "str": lambda v: isinstance(v, str), "path": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool), "number": _is_number,
        "numbers": lambda v: isinstance(v, dict) and all(_is_number(x) for x in v.values()),
        "paths": strs, "strs": strs, "bool": lambda v: isinstance(v, bool),
    }
    wanted = {"str": "a string", "path": "a path (string)", "int": "an integer", "number": "a number",
              "numbers": "a table of numbers, e.g. { roc_auc = 0.7 }", "paths": "a path or a list of paths",
              "strs": "a string or a list of strings", "bool": "true or false"}
    choices = kind.split("|")
    if kind.startswith("ref:"):
        return None if isinstance(value, str) else "must be the name of a stage (a string)"
    if kind.startswith("refs:"):
        return None if strs(value) else "must be a stage name or a list of stage names"
    if any(ok[c](value) for c in choices):
        return None
    return f"must be {' or '.join(wanted[c] for c in choices)}, not {value!r}"


def _ref_keys(stage: Stage) -> list[tuple[str, str]]:
    """(option, kind of stage it names) for each reference option of ``stage``'s kind."""
    return [(k, t.split(":", 1)[1]) for k, t in {**KINDS[stage.kind], **COMMON}.items() if t.startswith("ref")]


def _check_refs(where: str, stage: Stage, stages: dict[str, Stage]) -> None:
    for key, wanted in _ref_keys(stage):
        for target in stage.refs(key):
            here = f"{where}, stage {stage.name}, key {key}"
            if target not in stages:
                raise UserError(f"{here}: no stage named {target!r} (stages: {', '.join(stages)})")
            if wanted != "*" and stages[target].kind != wanted:
                raise UserError(f"{here}: stage {target!r} is a {stages[target].kind} stage, "
                                f"not a {wanted} stage")


def _ordered(where: str, stages: dict[str, Stage]) -> list[Stage]:
    """Dependency order, ties by file order (Kahn's algorithm); a cycle is named."""
    after: dict[str, list[str]] = {}
    for s in stages.values():
        deps = [t for key, _ in _ref_keys(s) for t in s.refs(key)]
        if s.kind in ("promote", "deploy"):
            deps += [g.name for g in stages.values() if g.kind == "gate" and g.refs("model") == s.refs("model")]
        after[s.name] = list(dict.fromkeys(deps))
    done: list[str] = []
    while len(done) < len(stages):
        ready = [n for n in stages if n not in done and all(d in done for d in after[n])]
        if not ready:
            raise UserError(f"{where}, stage {_cycle(stages, after, done)}")
        done.append(ready[0])
    return [Stage(n, stages[n].kind, stages[n].options, tuple(after[n])) for n in done]


def _cycle(stages: dict[str, Stage], after: dict[str, list[str]], done: list[str]) -> str:
    """'a, key after: references form a cycle a -> b -> a' for one cycle among the stages left."""
    path = [next(n for n in after if n not in done)]
    while True:
        nxt = next(d for d in after[path[-1]] if d not in done)
        if nxt in path:
            loop = path[path.index(nxt):] + [nxt]
            first = stages[loop[0]]
            key = next((k for k, _ in _ref_keys(first) if loop[1] in first.refs(k)), "model")
            return f"{loop[0]}, key {key}: references form a cycle {' -> '.join(loop)}"
        path.append(nxt)
