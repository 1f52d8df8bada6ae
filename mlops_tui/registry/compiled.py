"""The compiled engine: a model compiled once to native code, checked against LightGBM, cached.

Why lleaves (LLVM): on this machine, 200 trees x 63 leaves over 1M x 20 rows with 2 threads,
LightGBM's predict ran 290k rows/s, lleaves 1.51M rows/s (5.2x) and tl2cgen's generated C 484k
rows/s (1.7x); one row takes lleaves ~14 µs against LightGBM's ~55 µs. So lleaves scores and
serves; tl2cgen's portable C is what ``model export --format c`` writes for programs without Python.
Compiling is slow (a 200-tree model takes 20-80 s), hence the cache.

The artifact, per model and per machine::

    artifacts/compiled/<model sha256>/lleaves-<key>.o     the machine code LLVM produced
    artifacts/compiled/<model sha256>/lleaves-<key>.json  model sha256, the object's sha256, versions,
                                                           CPU, compile time and the correctness check

``key`` hashes what the object depends on besides the model (lleaves and llvmlite versions, the
CPU name and features LLVM compiled for, the compile options): a workspace copied to another
machine, or a newer lleaves, compiles again instead of running code built for something else.
lleaves' own cache loads whatever file it is pointed at, unchecked; here an object is loaded only
when its folder and sidecar name the model's sha256 and its bytes match the sidecar's sha256.

The object returns raw scores (the sum of the trees: ``raw_score=True``) and the objective's
transform (sigmoid, softmax, identity, exp) is applied here, so the correctness check compares
raw scores, where a wrong leaf cannot hide in a saturated sigmoid. The check runs when a model is
compiled, on a sample of its training data plus a copy of that sample with a fifth of the cells
missing; a difference above ``TOLERANCE`` deletes the object and refuses the engine.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_tui.errors import UserError
from mlops_tui.extras import missing_extra, require
from mlops_tui.training.modelfile import atomic_write_bytes, sha256_file

EngineInfo = dict[str, Any]
"""What a deployment keeps of a compiled artifact's sidecar (JSON: compiler versions, the check
against LightGBM, ...), shown by `deploy` and `serve`."""

if TYPE_CHECKING:  # numpy too: `deploy --help` and `model list` import this module
    import numpy as np

    from mlops_tui.store import ModelVersion
    from mlops_tui.workspace import Workspace

ENGINE = "compiled"
BACKEND = "lleaves"
TOLERANCE = 1e-9          # largest accepted |compiled - LightGBM| on raw scores
CHECK_ROWS = 2_000        # training rows checked (each twice: as they are, and with cells missing)
MISSING_SHARE = 0.2
SMALL_BATCH = 2_000       # below this many rows one thread answers faster than a thread pool
COMPILE_OPTIONS = {"raw_score": True, "fblocksize": 34, "fcodemodel": "large", "finline": True, "use_fp64": True}
Stage = Callable[[str], None]

_IDENTITY = ("regression", "regression_l1", "huber", "fair", "quantile", "mape")
_EXP = ("poisson", "gamma", "tweedie")
_SIGMOID = ("binary", "cross_entropy", "xentropy")


# -- what a model needs ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Objective:
    """The model's objective as LightGBM wrote it (``objective=binary sigmoid:1``) → its transform."""

    name: str
    sigmoid: float = 1.0

    @classmethod
    def of(cls, model_text: str, ref: str) -> Objective:
        """Parse a LightGBM text model; UserError (one line) for what the engine cannot reproduce."""
        head = model_text.split("\nTree=", 1)[0]
        line = next((x for x in head.splitlines() if x.startswith("objective=")), "objective=")
        name, *args = line.split("=", 1)[1].split()
        opts = dict(a.split(":", 1) for a in args if ":" in a)
        refuse = f"the compiled engine cannot run {ref}:"
        if "\nis_linear=1" in model_text:
            raise UserError(f"{refuse} it has linear trees (linear_tree=true); use --engine local")
        if "sqrt" in args:
            raise UserError(f"{refuse} its objective {name} sqrt is not supported; use --engine local")
        if name not in (*_IDENTITY, *_EXP, *_SIGMOID, "multiclass"):
            raise UserError(f"{refuse} objective {name or 'unknown'!r} is not supported "
                            "(binary, multiclass and regression are); use --engine local")
        return cls(name, float(opts.get("sigmoid", 1.0)) if name == "binary" else 1.0)

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Raw scores → what ``Booster.predict`` returns (the same formulas LightGBM applies)."""
        import numpy as np

        out: np.ndarray = raw
        if self.name in _SIGMOID:
            out = 1.0 / (1.0 + np.exp(-self.sigmoid * raw))
        elif self.name == "multiclass":
            e = np.exp(raw - raw.max(axis=1, keepdims=True))
            out = e / e.sum(axis=1, keepdims=True)
        elif self.name in _EXP:
            out = np.exp(raw)
        return out


class CompiledPredictor:
    """A loaded compiled model: ``predict(X, threads)`` returns what ``Booster.predict(X)`` would.

    ``X`` is the encoded feature matrix (rows x signature features, float64, NaN for missing), as
    ``signature.encode`` makes it, in either memory order. Calling the predictor, ``p(X)``, is
    ``predict`` on ``threads`` threads: the shape of a scoring engine's injected predictor.
    ``info`` is the artifact's record (what a deployment stores). Thread-safe: the compiled
    function only reads the model.
    """

    engine = ENGINE

    def __init__(self, compiled: Any, objective: Objective, info: dict[str, Any], threads: int = 1) -> None:
        self._compiled, self.objective, self.info, self.threads = compiled, objective, info, threads

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return self.predict(X, self.threads)

    def raw(self, X: np.ndarray, threads: int = 1) -> np.ndarray:
        import numpy as np

        X = np.ascontiguousarray(X, dtype=np.float64)
        out: np.ndarray = self._compiled.predict(X, n_jobs=1 if len(X) < SMALL_BATCH else max(1, threads))
        return out

    def predict(self, X: np.ndarray, threads: int = 1) -> np.ndarray:
        return self.objective.transform(self.raw(X, threads))


# -- the cache -------------------------------------------------------------------------------------
def _target() -> dict[str, Any]:
    """Everything besides the model that the object code depends on."""
    from importlib.metadata import version

    import llvmlite.binding as llvm

    llvm.initialize()
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    try:
        features = llvm.get_host_cpu_features().flatten()
    except RuntimeError:  # LLVM cannot tell on some CPUs: lleaves then compiles for none
        features = ""
    return {"backend": BACKEND, "lleaves": version("lleaves"), "llvmlite": version("llvmlite"),
            "cpu": llvm.get_host_cpu_name(), "cpu_features": features, "options": COMPILE_OPTIONS}


def artifact_dir(ws: Workspace, model: ModelVersion) -> Path:
    return ws.artifacts / "compiled" / model.sha256


def _cached(obj: Path, model: ModelVersion) -> dict[str, Any] | None:
    """The sidecar of a valid cached object of ``model``, else None (absent, stale or altered)."""
    try:
        meta: dict[str, Any] = json.loads(obj.with_suffix(".json").read_text())
        if (meta.get("model_sha256") == model.sha256 and meta.get("check", {}).get("passed")
                and obj.exists() and sha256_file(obj) == meta.get("object_sha256")):
            return meta
    except (OSError, json.JSONDecodeError, AttributeError):
        pass
    return None


def model_text(ws: Workspace, model: ModelVersion) -> tuple[Path, str]:
    path = ws.abspath(model.path)
    if not path.exists():
        raise UserError(f"model file {path} is missing")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != model.sha256:
        raise UserError(f"model file {path} fails its checksum; it was altered after {model.ref} was registered")
    return path, data.decode()


def _lleaves_model(lleaves: Any, model_path: Path, obj: Path) -> Any:
    """lleaves compiles into ``obj`` when it does not exist, and loads it when it does."""
    compiled = lleaves.Model(model_file=str(model_path))
    try:
        compiled.compile(cache=str(obj), **COMPILE_OPTIONS)
    except AttributeError as exc:  # lleaves 1.3 with llvmlite >= 0.45: PassManagerBuilder is gone
        from importlib.metadata import version

        raise missing_extra("the compiled engine", detail=f"lleaves does not work with llvmlite "
                                                          f"{version('llvmlite')}: {exc}") from exc
    return compiled


def load(ws: Workspace, model: ModelVersion, *, stage: Stage | None = None, threads: int = 1) -> CompiledPredictor:
    """``model``'s compiled predictor: from the workspace cache, or compiled and checked now.

    Raises UserError (one line) when the extra is missing, the model cannot be compiled faithfully,
    or the compiled scores differ from LightGBM's by more than ``TOLERANCE``.
    """
    lleaves = require("lleaves", "the compiled engine")
    model_path, text = model_text(ws, model)
    objective = Objective.of(text, model.ref)
    target = _target()
    key = hashlib.sha256(json.dumps(target, sort_keys=True).encode()).hexdigest()[:16]
    obj = artifact_dir(ws, model) / f"{BACKEND}-{key}.o"
    meta = _cached(obj, model)
    if meta is not None:
        if stage:
            stage(f"loading the compiled {model.ref} from {ws.relpath(obj)}")
        return CompiledPredictor(_lleaves_model(lleaves, model_path, obj), objective, record(meta, cached=True),
                                 threads)
    obj.parent.mkdir(parents=True, exist_ok=True)
    tmp = obj.with_name(f".{obj.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp.o")
    try:
        if stage:
            stage(f"compiling {model.ref} to native code with lleaves ({text.count(chr(10) + 'Tree=')} trees)")
        t0 = time.perf_counter()
        compiled = _lleaves_model(lleaves, model_path, tmp)
        seconds = time.perf_counter() - t0
        predictor = CompiledPredictor(compiled, objective, {}, threads)
        if stage:
            stage(f"checking the compiled {model.ref} against LightGBM on training rows")
        check = check_against_lightgbm(ws, model, text, predictor)
        if not check["passed"]:
            raise UserError(f"the compiled {model.ref} differs from LightGBM by {check['max_abs_diff']:.3g} on raw "
                            f"scores (limit {TOLERANCE:g}, {check['rows']:,} rows); use --engine local")
        meta = {"engine": ENGINE, "backend": BACKEND, "model": model.ref, "model_sha256": model.sha256, "key": key,
                "object_sha256": sha256_file(tmp), "artifact": ws.relpath(obj), "compile_seconds": round(seconds, 3),
                "compiled_at": datetime.now(UTC).isoformat(timespec="seconds"), "check": check,
                "lleaves": target["lleaves"], "llvmlite": target["llvmlite"], "cpu": target["cpu"], "target": target}
        os.replace(tmp, obj)  # the object first: a sidecar never vouches for bytes that are not there
        atomic_write_bytes(obj.with_suffix(".json"), json.dumps(meta, indent=2).encode())
    finally:
        tmp.unlink(missing_ok=True)
    predictor.info = record(meta, cached=False)
    return predictor


def record(meta: dict[str, Any], *, cached: bool) -> EngineInfo:
    """What a deployment keeps of an artifact's sidecar (all but the CPU feature list)."""
    return {**{k: v for k, v in meta.items() if k != "target"}, "cached": cached}


# -- the correctness check --------------------------------------------------------------------------
def check_rows(ws: Workspace, model: ModelVersion) -> np.ndarray:
    """Encoded training rows (every k-th of the snapshot) and the same rows with cells missing."""
    import numpy as np

    from mlops_tui.data import datasets
    from mlops_tui.store import NotFoundError
    from mlops_tui.training.signature import Signature, encode

    sig = Signature.from_json(model.signature)
    try:
        if not model.dataset:
            raise NotFoundError("no dataset recorded")
        dv = ws.store.datasets.get(model.dataset, model.dataset_version)
    except NotFoundError as exc:
        raise UserError(f"cannot check the compiled {model.ref} against LightGBM: its training data is "
                        f"unknown ({exc}); use --engine local") from exc
    lf = datasets.scan(ws, dv).select(sig.source_columns)
    if dv.rows > CHECK_ROWS:
        lf = lf.gather_every(dv.rows // CHECK_ROWS)
    X = encode(lf.head(CHECK_ROWS).collect(), sig)[0].to_numpy().astype(np.float64)
    holes = X.copy()
    holes[np.random.default_rng(0).random(X.shape) < MISSING_SHARE] = np.nan
    return np.vstack([X, holes])


def max_abs_diff(a: Any, b: Any) -> float:
    """Largest |a - b|; NaN on both sides agrees, NaN on one side is an infinite difference."""
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    d = np.abs(a - b)
    d[np.isnan(a) & np.isnan(b)] = 0.0
    d[np.isnan(d)] = np.inf
    return float(d.max()) if d.size else 0.0


def check_against_lightgbm(ws: Workspace, model: ModelVersion, text: str,
                           predictor: CompiledPredictor) -> EngineInfo:
    """Raw scores and predictions of the compiled model vs LightGBM's on training rows."""
    import lightgbm as lgb

    X = check_rows(ws, model)
    booster = lgb.Booster(model_str=text)
    raw = max_abs_diff(predictor.raw(X), booster.predict(X, raw_score=True))
    out = max_abs_diff(predictor.predict(X), booster.predict(X))
    return {"rows": int(len(X)), "max_abs_diff": raw, "max_abs_diff_predictions": out,
            "tolerance": TOLERANCE, "passed": bool(raw <= TOLERANCE)}
