"""What turns encoded feature rows into model output, behind one small interface.

`serve` asks the deployment's engine (``deployments.engine``, a key of :data:`ENGINES`) for a
:class:`Predictor` of the model version it points at, so another engine (a compiled model, say)
plugs in without touching the HTTP code: add a factory here (or pass ``predictor_factory`` to
:func:`mlops_tui.serving.http.create_app`). An engine this process does not know falls back to
``local`` (logged, and ``/metadata`` says which engine answers). Every engine must
return what ``lightgbm.Booster.predict`` returns for the same rows: a 1-D array (regression: the
value; binary: P(second class)) or an n x k array of class probabilities.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from mlops_tui.store import ModelVersion
    from mlops_tui.training.signature import Signature
    from mlops_tui.workspace import Workspace

# Below this many rows a request predicts on one thread: on small inputs OpenMP's start-up and
# threads fighting over 2 cores with the other requests' threads cost more than they save.
THREADED_ROWS = 10_000


class Predictor(Protocol):
    def predict(self, X: np.ndarray) -> np.ndarray: ...


class BoosterPredictor:
    """LightGBM's own predict (the model file checked against its sha256 on load)."""

    def __init__(self, booster: Any, threads: int) -> None:
        self.booster, self.threads = booster, threads

    def predict(self, X: np.ndarray) -> np.ndarray:
        threads = self.threads if X.shape[0] >= THREADED_ROWS else 1
        return self.booster.predict(X, num_threads=threads)


def lightgbm_predictor(ws: Workspace, model: ModelVersion) -> Predictor:
    from mlops_tui.registry import models as registry
    from mlops_tui.serving.scoring import cores

    booster, _ = registry.load(ws, model)
    return BoosterPredictor(booster, cores())


PredictorFactory = Callable[["Workspace", "ModelVersion"], Predictor]
ENGINES: dict[str, PredictorFactory] = {"local": lightgbm_predictor}  # names as in deployments.engine


def probabilities(raw: np.ndarray) -> np.ndarray:
    """A classifier's raw output → one column of probability per class (binary gives P(class 1))."""
    import numpy as np

    return np.column_stack([1.0 - raw, raw]) if raw.ndim == 1 else raw


def outputs(sig: Signature, raw: np.ndarray) -> tuple[list[Any], np.ndarray | None]:
    """(the prediction of each row: a class label or a value, class probabilities or None)."""
    if sig.task == "regression":
        return raw.tolist(), None
    proba = probabilities(raw)
    classes = list(sig.classes)
    return [classes[i] for i in proba.argmax(axis=1).tolist()], proba
