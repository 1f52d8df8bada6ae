"""The model registry and batch-scoring deployments: resolve, show, promote, deploy, load.

Every place that accepts a model reference (CLI, TUI, monitoring, retraining) goes through
:func:`resolve_model` (:mod:`mlops_tui.refs`), so ``NAME``, ``NAME:VERSION`` and ``NAME@ALIAS`` mean the same thing
everywhere. Aliases move between versions and every move is kept in ``alias_history``; a
rollback is simply promoting the previous version again (:func:`rollback` finds it).

A deployment is a named pointer at one model version plus the signature it expects and a
default output folder; creating or repointing it goes through the validation gate
(``gate.check``) against its champion (:func:`champion_of`: the version the deployment serves,
else the model's ``production`` version), and ``--force`` overrides a refusal on the record.
A deployment made from ``NAME@ALIAS`` follows that alias: promoting or rolling the alias back
repoints it too, and a running `serve` of it switches versions on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_tui.errors import PolicyRefused, UserError
from mlops_tui.refs import check_name, parse_ref
from mlops_tui.refs import resolve_model as resolve_model  # the registry's lookup, kept low for evaluation
from mlops_tui.registry import compiled, gate
from mlops_tui.registry.gate import Verdict
from mlops_tui.results import JsonDict, Result
from mlops_tui.store import Deployment, ModelVersion, NotFoundError
from mlops_tui.training.modelfile import load_model

if TYPE_CHECKING:
    import lightgbm as lgb

    from mlops_tui.training.metrics import Metrics
    from mlops_tui.workspace import Workspace

ENGINES = ("local", compiled.ENGINE)  # what scores a deployment: LightGBM itself, or the compiled model
# -- resolution ----------------------------------------------------------------------------------
def get_deployment(ws: Workspace, name: str) -> Deployment:
    try:
        return ws.store.models.deployment(name)
    except NotFoundError as exc:
        raise UserError(str(exc)) from exc


def resolve_target(ws: Workspace, target: str) -> tuple[Deployment | None, ModelVersion]:
    """A scoring target: a deployment name (wins when both exist) or a model reference."""
    try:
        dep = ws.store.models.deployment(target)
    except NotFoundError:
        dep = None
    if dep is not None:
        try:
            return dep, ws.store.models.get(dep.model_name, dep.model_version)
        except NotFoundError as exc:
            raise UserError(f"deployment {dep.name!r} points at a missing model: {exc}") from exc
    try:
        return None, resolve_model(ws, target)
    except UserError as exc:
        raise UserError(f"{target!r} is neither a deployment nor a model ({exc})") from exc


def load(ws: Workspace, model: ModelVersion) -> tuple[lgb.Booster, dict[str, Any]]:
    """The booster and its sidecar, after checking the file's sha256 against the registry."""
    return load_model(ws.abspath(model.path), model.sha256)


# -- views ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSummary(Result):
    """A model version as `model list` shows it."""

    name: str
    version: int
    aliases: tuple[str, ...]
    metrics: Metrics
    task: str
    run_id: str | None
    dataset: str | None  # NAME:V of the dataset it was trained on
    created_at: datetime


@dataclass(frozen=True)
class GatedVersion(ModelSummary):
    gate: Verdict


@dataclass(frozen=True)
class AliasMove(Result):
    alias: str
    version: int
    previous_version: int | None
    changed_at: datetime


@dataclass(frozen=True)
class ModelDetail(ModelSummary):
    """:func:`show`'s answer: the version in full, its gate verdict, its siblings and alias moves."""

    ref: str
    path: str
    sha256: str
    dataset_name: str | None
    dataset_version: int | None
    signature: JsonDict  # the stored signature (:class:`mlops_tui.training.signature.Signature` JSON)
    gate: Verdict
    deployments: tuple[str, ...]
    versions: tuple[GatedVersion, ...]
    alias_history: tuple[AliasMove, ...]


@dataclass(frozen=True)
class Promotion(Result):
    """An alias moved: where from, the version's gate verdict, the deployments that followed it."""

    name: str
    version: int
    alias: str
    previous_version: int | None
    aliases: tuple[str, ...]
    metrics: Metrics
    gate: Verdict
    deployments: tuple[str, ...]


@dataclass(frozen=True)
class DeployRefused(Result):
    """The payload of a refused `deploy` (its PolicyRefused)."""

    deployment: str
    model: str
    version: int
    deployed: bool
    gate: Verdict


def _summary_fields(m: ModelVersion) -> dict[str, Any]:
    return {"name": m.name, "version": m.version, "aliases": tuple(m.aliases), "metrics": m.metrics or {},
            "task": m.task, "run_id": m.run_id, "dataset": _dataset_ref(m), "created_at": m.created_at}


def _dataset_ref(m: ModelVersion) -> str | None:
    if not m.dataset:
        return None
    return m.dataset if m.dataset_version is None else f"{m.dataset}:{m.dataset_version}"


def list_models(ws: Workspace, name: str | None = None) -> list[ModelSummary]:
    """Every model version (newest first within a name) with its aliases and metrics."""
    return [ModelSummary(**_summary_fields(m)) for m in ws.store.models.list(name)]


def champion_of(ws: Workspace, model: ModelVersion, deployment: str | None = None) -> ModelVersion | None:
    """What ``model`` must not be worse than: the version a deployment serves, else ``production``."""
    if deployment:
        try:
            dep = ws.store.models.deployment(deployment)
            if dep.model_name == model.name:
                champ = ws.store.models.get(dep.model_name, dep.model_version)
                return None if champ.version == model.version else champ
        except NotFoundError:
            pass
    try:
        champ = ws.store.models.by_alias(model.name, "production")
    except NotFoundError:
        return None
    return None if champ.version == model.version else champ


def show(ws: Workspace, ref: str) -> ModelDetail:
    """One version in full: metrics, gate verdict, file path + sha256, lineage, siblings, aliases."""
    m = resolve_model(ws, ref)
    verdict = gate.check(ws, m, champion=champion_of(ws, m))
    history = ws.store.models.alias_history(m.name)
    deployments = [d.name for d in ws.store.models.deployments()
                   if d.model_name == m.name and d.model_version == m.version]
    versions = ws.store.models.list(m.name)
    try:
        production = ws.store.models.by_alias(m.name, "production")
    except NotFoundError:
        production = None
    verdicts = gate.check_versions(ws, versions, champion=production)
    return ModelDetail(
        **_summary_fields(m), ref=m.ref, path=str(ws.abspath(m.path)), sha256=m.sha256, dataset_name=m.dataset,
        dataset_version=m.dataset_version, signature=m.signature, gate=verdict, deployments=tuple(deployments),
        versions=tuple(GatedVersion(**_summary_fields(v), gate=verdicts[v.ref]) for v in versions),
        alias_history=tuple(AliasMove(h.alias, h.version, h.previous_version, h.changed_at) for h in history))


# -- mutations -----------------------------------------------------------------------------------
def promote(ws: Workspace, ref: str, alias: str) -> Promotion:
    """Point ``alias`` at the version ``ref`` names (moving it from any other version)."""
    check_name("alias", alias)
    m = resolve_model(ws, ref)
    # Promoting is a person's decision and is never refused; the verdict is reported so nobody
    # learns only at `deploy` that the new production version does not pass the gate.
    verdict = gate.check(ws, m, champion=champion_of(ws, m))
    try:
        previous = ws.store.models.set_alias(m.name, alias, m.version)
    except NotFoundError as exc:
        raise UserError(str(exc)) from exc
    ws.store.audit.record("model promote", f"model:{m.name}:{m.version}", "ok",
                          {"alias": alias, "previous_version": previous})
    moved = _repoint_followers(ws, m, alias)
    return Promotion(m.name, m.version, alias, previous, tuple(ws.store.models.get(m.name, m.version).aliases),
                     m.metrics or {}, verdict, tuple(moved))


def _repoint_followers(ws: Workspace, m: ModelVersion, alias: str) -> list[str]:
    """Deployments made from ``NAME@ALIAS`` move with the alias (a running `serve` then hot-swaps).

    Moving an alias is a person's decision, so the gate does not refuse here; a deployment it
    would have refused is marked forced, with the verdict on the record, as `deploy --force` does.
    """
    moved = []
    for dep in ws.store.models.following(m.name, alias):
        if dep.model_version == m.version:
            continue
        verdict = gate.check(ws, m, champion=champion_of(ws, m, deployment=dep.name))
        # The engine stays; a compiled one compiles the new version on first use (as after retrain).
        ws.store.models.deploy(name=dep.name, model_name=m.name, model_version=m.version, signature=m.signature,
                               forced=not verdict.passed, gate=verdict.to_json(), follows=alias, engine=dep.engine)
        ws.store.audit.record("deploy", f"deployment:{dep.name}", "ok", {
            "model": m.ref, "follows": f"{m.name}@{alias}", "previous_version": dep.model_version,
            "forced": not verdict.passed, "gate": verdict.to_json(), "engine": dep.engine})
        moved.append(dep.name)
    return moved


def rollback(ws: Workspace, name: str, alias: str = "production") -> Promotion:
    """Move ``alias`` back to the version it pointed at before its latest move."""
    history = ws.store.models.alias_history(name, alias)
    if not history or history[-1].previous_version is None:
        raise UserError(f"alias {name}@{alias} has no earlier version to roll back to")
    return promote(ws, f"{name}:{history[-1].previous_version}", alias)


def default_engine(ws: Workspace) -> str:
    """The engine a new deployment scores with: ``[deploy] engine`` in the workspace's config.toml."""
    value = ws.config.get("deploy", {}).get("engine", "local")
    if value not in ENGINES:
        raise UserError(f"{ws.config_path}: [deploy] engine = {value!r}; choose one of {', '.join(ENGINES)}")
    return str(value)


def deploy(ws: Workspace, ref: str, name: str, force: bool = False, output_dir: str | None = None, *,
           engine: str | None = None, stage: compiled.Stage | None = None,
           policy: dict[str, Any] | None = None, verdict: Verdict | None = None) -> Deployment:
    """Create or repoint deployment ``name``; the gate must pass unless ``force`` (recorded).

    ``engine`` None keeps the deployment's engine (a new one takes :func:`default_engine`). The
    compiled engine compiles the model now (or finds it cached) and checks it against LightGBM,
    reporting each step to ``stage``; a model it cannot run faithfully is refused with one line
    and the deployment stays as it was. ``policy``: the gate's (default: the workspace's).
    ``verdict``: the gate's verdict when the caller reached it on better evidence than the stored
    holdout figures (a pipeline scores model and champion on the same rows); else checked here.
    """
    check_name("deployment name", name)
    if engine is not None and engine not in ENGINES:
        raise UserError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    m = resolve_model(ws, ref)
    follows = parse_ref(ref, allow_alias=True, kind="model").alias
    if verdict is None:
        verdict = gate.check(ws, m, champion=champion_of(ws, m, deployment=name), policy=policy)
    obj = f"deployment:{name}"
    if not verdict.passed and not force:
        ws.store.audit.record("deploy", obj, "refused", {"model": m.ref, "gate": verdict.to_json()})
        raise PolicyRefused(
            f"gate refused {m.ref} for deployment {name!r}: {'; '.join(verdict.reasons)} (use --force to override)",
            DeployRefused(name, m.name, m.version, False, verdict),
        )
    try:
        current: Deployment | None = ws.store.models.deployment(name)
    except NotFoundError:
        current = None
    if output_dir is not None:
        # Relative to the current directory, like every path a user types; stored relative to
        # the workspace when inside it (so the workspace can move), absolute otherwise.
        out = Path(output_dir).expanduser().resolve()
        stored = ws.relpath(out) if out.is_relative_to(ws.root) else str(out)
    else:
        stored = (current.output_dir if current else None) or f"artifacts/scores/{name}"
    engine = engine or (current.engine if current else default_engine(ws))
    engine_info = None
    if engine == compiled.ENGINE:
        try:
            engine_info = compiled.load(ws, m, stage=stage).info
        except UserError as exc:
            ws.store.audit.record("deploy", obj, "failed", {"model": m.ref, "engine": engine, "error": str(exc)})
            raise
    dep = ws.store.models.deploy(name=name, model_name=m.name, model_version=m.version,
                                 signature=m.signature, output_dir=stored,
                                 forced=bool(force and not verdict.passed), gate=verdict.to_json(),
                                 engine=engine, engine_info=engine_info, follows=follows)
    ws.store.audit.record("deploy", obj, "ok", {
        "model": m.ref, "forced": dep.forced, "gate": verdict.to_json(), "output_dir": stored,
        "follows": f"{m.name}@{follows}" if follows else None, "engine": engine,
        **({"max_abs_diff": engine_info["check"]["max_abs_diff"]} if engine_info else {})})
    return dep


def deployment_output_dir(ws: Workspace, dep: Deployment) -> Path:
    """The folder a deployment's outputs go to when ``score`` is given no ``--output``."""
    raw = dep.output_dir or f"artifacts/scores/{dep.name}"
    p = Path(raw)
    return p if p.is_absolute() else ws.abspath(raw)
