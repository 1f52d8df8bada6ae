"""Which predictor a service scores with: engines by name, each a factory of a
:data:`~mlops_tui.serving.batch.Predict` callable (encoded float matrix → ``Booster.predict``'s output).

`serve` asks the deployment's engine (``deployments.engine``, a key of :data:`ENGINES`) for the
predictor of the version it points at, so another engine (a compiled model, say) plugs in without
touching the HTTP code: add a factory here, or pass ``predictor_factory`` to
:func:`mlops_tui.serving.http.create_app`. An engine this process does not know falls back to
``local`` (logged; ``/metadata`` says which engine answers).

Batch scoring picks its predictor here too (:func:`engine_of`, :func:`predictor`):

    local     LightGBM's ``Booster.predict``
    compiled  the model compiled to native code by lleaves, checked against LightGBM when it was
              compiled (:mod:`mlops_tui.registry.compiled`); several times faster per row. An
              artifact not in the cache (another machine, a deployment repointed to a new
              version) is compiled and checked on first use, each step reported to ``stage``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mlops_tui.errors import UserError

if TYPE_CHECKING:
    import numpy as np

    from mlops_tui.serving.batch import Predict
    from mlops_tui.store import Deployment, ModelVersion
    from mlops_tui.workspace import Workspace

# Below this many rows a request predicts on one thread: on small inputs OpenMP's start-up, and
# the threads of concurrent requests fighting over the cores, cost more than they save.
THREADED_ROWS = 10_000


def local_predictor(ws: Workspace, model: ModelVersion, threads: int | None = None) -> Predict:
    """LightGBM's own predict (the model file checked against its sha256 on load), on ``threads``
    threads (default: every core)."""
    from mlops_tui.registry import models as registry
    from mlops_tui.serving.batch import cores

    booster, _ = registry.load(ws, model)
    threads = threads or cores()

    def predict(X: np.ndarray) -> np.ndarray:
        import numpy as np

        return np.asarray(booster.predict(X, num_threads=threads if X.shape[0] >= THREADED_ROWS else 1))

    return predict


def compiled_predictor(ws: Workspace, model: ModelVersion, stage: Callable[[str], None] | None = None,
                       threads: int | None = None) -> Predict:
    """The compiled model (lleaves): from the workspace's cache, or compiled and checked now.
    It predicts fewer than 2,000 rows on one thread, more on ``threads`` (default: every core)."""
    from mlops_tui.registry import compiled
    from mlops_tui.serving.batch import cores

    return compiled.load(ws, model, stage=stage, threads=threads or cores())


PredictorFactory = Callable[["Workspace", "ModelVersion"], "Predict"]
# Names as in deployments.engine (registry.models.ENGINES validates `deploy --engine`).
ENGINES: dict[str, PredictorFactory] = {"local": local_predictor, "compiled": compiled_predictor}


def engine_of(dep: Deployment | None, requested: str | None = None) -> str:
    """The engine asked for, else the deployment's, else local (a bare model reference)."""
    engine = requested or (dep.engine if dep else "local")
    if engine not in ENGINES:
        raise UserError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    return engine


def predictor(ws: Workspace, model: ModelVersion, engine: str, *,
              stage: Callable[[str], None] | None = None, threads: int | None = None) -> Predict:
    """``model``'s predictor on ``engine`` and ``threads`` threads (default: every core); ``stage``
    hears about a compile that has to happen first."""
    if engine == "compiled":
        return compiled_predictor(ws, model, stage, threads)
    if engine == "local":
        return local_predictor(ws, model, threads)
    return ENGINES[engine](ws, model)
