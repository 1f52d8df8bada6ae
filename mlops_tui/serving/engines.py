"""Which engine scores, and its predictor: one place for batch scoring and the HTTP service.

    local     LightGBM's ``Booster.predict`` (the default)
    compiled  the model compiled to native code by lleaves, checked against LightGBM when it was
              compiled (:mod:`mlops_tui.registry.compiled`); several times faster per row

A deployment names its engine (``deploy --engine``); ``score --engine`` and a service may ask
for another. Either way :func:`predictor` returns a :data:`batch.Predict`, the callable that
``batch.score_batch`` is given, so nothing downstream knows which engine it runs. A compiled
artifact missing from the cache (another machine, a deployment that followed an alias to a new
version) is compiled and checked on first use, reporting each step to ``stage``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_tui.errors import UserError
from mlops_tui.registry import compiled
from mlops_tui.registry import models as registry
from mlops_tui.serving import batch

if TYPE_CHECKING:
    from mlops_tui.store import Deployment, ModelVersion
    from mlops_tui.workspace import Workspace

LOCAL = "local"
ENGINES = registry.ENGINES


def engine_of(dep: Deployment | None, requested: str | None = None) -> str:
    """The engine asked for, else the deployment's, else local (a bare model reference)."""
    engine = requested or (dep.engine if dep else LOCAL)
    if engine not in ENGINES:
        raise UserError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    return engine


def predictor(ws: Workspace, model: ModelVersion, engine: str, *, stage: compiled.Stage | None = None,
              threads: int | None = None) -> batch.Predict:
    """``model``'s predictor on ``engine``, using ``threads`` threads (default: every core)."""
    threads = threads or batch.cores()
    if engine == compiled.ENGINE:
        return compiled.load(ws, model, stage=stage, threads=threads)
    booster, _ = registry.load(ws, model)
    return batch.lightgbm_predictor(booster, threads)
