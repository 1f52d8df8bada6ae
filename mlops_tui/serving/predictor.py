"""Which predictor a service scores with: engines by name, each a factory of a
:data:`~mlops_tui.serving.batch.Predict` callable (encoded float matrix → ``Booster.predict``'s output).

`serve` asks the deployment's engine (``deployments.engine``, a key of :data:`ENGINES`) for the
predictor of the version it points at, so another engine (a compiled model, say) plugs in without
touching the HTTP code: add a factory here, or pass ``predictor_factory`` to
:func:`mlops_tui.serving.http.create_app`. An engine this process does not know falls back to
``local`` (logged; ``/metadata`` says which engine answers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from mlops_tui.serving.batch import Predict
    from mlops_tui.store import ModelVersion
    from mlops_tui.workspace import Workspace

# Below this many rows a request predicts on one thread: on small inputs OpenMP's start-up, and
# the threads of concurrent requests fighting over the cores, cost more than they save.
THREADED_ROWS = 10_000


def local_predictor(ws: Workspace, model: ModelVersion) -> Predict:
    """LightGBM's own predict (the model file checked against its sha256 on load)."""
    from mlops_tui.registry import models as registry
    from mlops_tui.serving.batch import cores

    booster, _ = registry.load(ws, model)
    threads = cores()

    def predict(X: np.ndarray) -> np.ndarray:
        return booster.predict(X, num_threads=threads if X.shape[0] >= THREADED_ROWS else 1)

    return predict


PredictorFactory = Callable[["Workspace", "ModelVersion"], "Predict"]
ENGINES: dict[str, PredictorFactory] = {"local": local_predictor}  # names as in deployments.engine
