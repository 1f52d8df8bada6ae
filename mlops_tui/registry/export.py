"""`model export`: a registered model as files another program runs without mlops-tui.

    lightgbm  model.txt  LightGBM's own text format (every LightGBM binding reads it) and
              model.json the sidecar: signature, category lists, classes, metrics, lineage
    c         model.c + model.h  the trees as plain C (tl2cgen), needing nothing but libm, and
              main.c + Makefile  an example program: CSV rows on stdin, predictions on stdout
    onnx      model.onnx  an ONNX tree ensemble (onnxmltools), checked with onnxruntime against
              LightGBM on training rows before it is written (ONNX trees compute in float32)

Each export also writes README.md: the input columns in order, the integer code of every
category, how a missing value is given, and what the outputs are. A model only ever sees
encoded numbers (``signature.encode``), so that page is the contract a foreign program keeps.

Files are built in a hidden folder inside ``--output`` and moved in only when all are complete;
other files already in the folder are left alone.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files as package_files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_tui.errors import UserError
from mlops_tui.extras import require
from mlops_tui.registry import compiled
from mlops_tui.results import JsonDict, Result
from mlops_tui.training.signature import Feature, Signature

if TYPE_CHECKING:
    from mlops_tui.store import ModelVersion
    from mlops_tui.workspace import Workspace

FORMATS = ("c", "onnx", "lightgbm")
INT32_MAX = 2**31 - 1
ONNX_TOLERANCE = 1e-5  # |onnxruntime - LightGBM| / (1 + |LightGBM|): float32 rounding, not a wrong tree
_MAKEFILE = "predict: main.c model.c model.h\n\t$(CC) -O2 -o predict main.c model.c -lm\n"
_DATE_PARTS = {"year": "the year", "month": "the month (1-12)", "day": "the day of the month (1-31)",
               "weekday": "the weekday (Monday = 1 ... Sunday = 7)", "hour": "the hour (0-23)"}


@dataclass(frozen=True)
class Export(Result):
    format: str
    model: str
    output: Path
    files: tuple[str, ...]  # names inside ``output``; the JSON gives full paths
    check: JsonDict | None = None

    def to_json(self) -> JsonDict:
        return {"format": self.format, "model": self.model, "output": str(self.output),
                "files": [str(self.output / f) for f in self.files], "check": self.check}


def export(ws: Workspace, model: ModelVersion, fmt: str, output: str | Path) -> Export:
    """Write ``model`` in format ``fmt`` into folder ``output`` (created if needed)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = Path(output).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise UserError(f"--output {out} is a file; give a folder")
    model_path, text = compiled.model_text(ws, model)
    sig = Signature.from_json(model.signature)
    build = {"lightgbm": _lightgbm, "c": _c_source, "onnx": _onnx}[fmt]
    artifacts, check = build(ws, model, model_path, text, sig)
    artifacts["README.md"] = readme(model, sig, fmt, check).encode()
    _publish(artifacts, out)
    return Export(fmt, model.ref, out, tuple(artifacts), check)


def _publish(artifacts: dict[str, bytes], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".export-"))
    try:
        for name, data in artifacts.items():
            with open(staging / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        for name in artifacts:
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def _quiet() -> Any:
    """tl2cgen and onnxmltools print progress to stdout and warn freely: keep ``--json`` clean."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# -- the formats ------------------------------------------------------------------------------------
def _lightgbm(ws: Workspace, model: ModelVersion, path: Path, text: str, sig: Signature) -> tuple[dict[str, bytes], None]:
    return {"model.txt": text.encode(), "model.json": path.with_suffix(".json").read_bytes()}, None


def _c_source(ws: Workspace, model: ModelVersion, path: Path, text: str, sig: Signature) -> tuple[dict[str, bytes], None]:
    tl2cgen = require("tl2cgen", "model export --format c")
    treelite = require("treelite", "model export --format c")
    if (deep := too_deep(text)) is not None and _version(treelite.__version__) < (4, 3):
        tree, depth = deep
        raise UserError(f"{model.ref} is too deep for treelite {treelite.__version__}, which writes the C: its tree "
                        f"{tree} has a leaf {depth} levels down, past what treelite before 4.3 can number "
                        "(dmlc/treelite#571); export --format onnx or lightgbm, or deploy --engine compiled")
    with tempfile.TemporaryDirectory() as tmp, _quiet():
        tl2cgen.generate_c_code(treelite.frontend.load_lightgbm_model(str(path)), dirpath=tmp, params={})
        header = Path(tmp, "header.h").read_text()
        source = Path(tmp, "main.c").read_text().replace('#include "header.h"', '#include "model.h"')
    example = package_files("mlops_tui.registry").joinpath("export_main.c").read_bytes()
    return {"model.h": header.encode(), "model.c": source.encode(), "main.c": example,
            "Makefile": _MAKEFILE.encode()}, None


def too_deep(text: str) -> tuple[int, int] | None:
    """(tree, depth of its deepest leaf) of the first tree of a LightGBM model text whose nodes treelite
    before 4.3 cannot number, else None. It numbers a tree's nodes as if the tree were complete (children
    of k: 2k+1, 2k+2) in 32-bit ints, so a lopsided path ~31 levels down overflowed and the C export
    failed with 'Node key cannot be negative': ggplot2 diamonds' price, tuned with 96 leaves a tree."""
    left: list[int] = []
    tree = -1
    for line in text.splitlines():
        if line.startswith("Tree="):
            tree = int(line[5:])
        elif line.startswith("left_child="):
            left = [int(v) for v in line[11:].split()]
        elif line.startswith("right_child=") and left:
            right = [int(v) for v in line[12:].split()]
            top = deepest = 0
            stack = [(0, 0, 0)]  # (node, its key, its depth)
            while stack:
                node, key, depth = stack.pop()
                for child, child_key in ((left[node], 2 * key + 1), (right[node], 2 * key + 2)):
                    top, deepest = max(top, child_key), max(deepest, depth + 1)
                    if child >= 0:
                        stack.append((child, child_key, depth + 1))
            if top > INT32_MAX:
                return tree, deepest
            left = []
    return None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:2])


def _onnx(ws: Workspace, model: ModelVersion, path: Path, text: str, sig: Signature) -> tuple[dict[str, bytes], dict[str, Any]]:
    import lightgbm as lgb
    import numpy as np

    require("onnxmltools", "model export --format onnx")
    ort = require("onnxruntime", "model export --format onnx")
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    booster = lgb.Booster(model_str=text)
    with _quiet():
        onx = convert_lightgbm(booster, initial_types=[("input", FloatTensorType([None, len(sig.features)]))],
                               zipmap=False).SerializeToString()
    options = ort.SessionOptions()
    options.log_severity_level = 3  # its shape notes about the label output are noise here
    session = ort.InferenceSession(onx, options, providers=["CPUExecutionProvider"])
    X = compiled.check_rows(ws, model)
    got = np.asarray(session.run(None, {"input": X.astype(np.float32)})[-1], dtype=np.float64)
    want = np.asarray(booster.predict(X), dtype=np.float64)
    got = got[:, 1] if sig.task == "binary" else got.reshape(want.shape)
    worst = float(np.max(np.abs(got - want) / (1.0 + np.abs(want)))) if len(X) else 0.0
    check = {"runtime": f"onnxruntime {ort.__version__}", "rows": int(len(X)), "max_rel_diff": worst,
             "max_abs_diff": compiled.max_abs_diff(got, want), "tolerance": ONNX_TOLERANCE}
    if not worst <= ONNX_TOLERANCE:
        raise UserError(f"the ONNX export of {model.ref} differs from LightGBM by {worst:.3g} (relative, limit "
                        f"{ONNX_TOLERANCE:g}) on {len(X):,} training rows; export --format c or lightgbm instead")
    return {"model.onnx": onx}, check


# -- the README -------------------------------------------------------------------------------------
def encoding(f: Feature) -> str:
    if f.transform:
        written = f" (text written as `{f.date_format}`)" if f.date_format and f.date_format != "iso" else ""
        return f"{_DATE_PARTS.get(f.transform, f.transform)} of date/time column `{f.source}`{written}"
    if f.time_of_day:
        return f"seconds since midnight of time-of-day column `{f.source}`"
    if f.kind == "categorical":
        return "category code: " + ", ".join(f"`{c}` = {i}" for i, c in enumerate(f.categories))
    return "number"


def _outputs(sig: Signature, fmt: str) -> str:
    if sig.task == "regression":
        named = "`variable`: " if fmt == "onnx" else ""
        return f"{named}the predicted `{sig.target}` (one value per row)."
    classes = [str(c) for c in sig.classes]
    if sig.task == "binary":
        if fmt == "onnx":
            return (f"`probabilities`: two columns, P(`{classes[0]}`) and P(`{classes[1]}`); `label`: the index "
                    f"of the likelier class ({classes[0]} = 0, {classes[1]} = 1).")
        return f"The probability that `{sig.target}` is `{classes[1]}` (one value per row; `{classes[0]}` is 1 minus it)."
    listed = ", ".join(f"`{c}`" for c in classes)
    named = "`probabilities`: " if fmt == "onnx" else ""
    extra = "; `label`: the index of the likeliest class" if fmt == "onnx" else ""
    return f"{named}the probability of each class of `{sig.target}`, in this order: {listed}{extra}."


def _decision(model: ModelVersion, sig: Signature, fmt: str) -> str:
    """The tuned decision threshold a program must apply itself (`tune --threshold-for`); '' without one."""
    from mlops_tui.training.metrics import model_threshold

    threshold = model_threshold(model.metrics)
    if threshold is None or sig.task != "binary":
        return ""
    label = " ONNX's `label` output uses 0.5: ignore it." if fmt == "onnx" else ""
    return (f"\nDecision threshold: `{sig.classes[1]}` when its probability is >= {threshold:.6g}, else "
            f"`{sig.classes[0]}`, as mlops-tui labels rows with this model (tuned for "
            f"{(model.metrics or {})['threshold_for']}); the model outputs probabilities only.{label}\n")


_RUN = {
    "c": """```sh
make                      # or: cc -O2 -o predict main.c model.c -lm
./predict < rows.csv      # rows.csv: the columns above, encoded, comma-separated
```
`model.h` declares `predict(union Entry *row, int pred_margin, double *out)`: set `row[i].fvalue`
to feature i, or `row[i].missing = -1` when it is missing; zero `out` (MAX_N_CLASS doubles) first.
In `rows.csv` a missing value is an empty field, `NA` or `NaN`.
""",
    "onnx": """```python
import numpy as np, onnxruntime as ort
session = ort.InferenceSession("model.onnx")
outputs = session.run(None, {"input": X.astype(np.float32)})   # X: rows x features, NaN = missing
```
ONNX tree ensembles compute in float32: outputs match LightGBM's to about 1e-6 of their size, not
bit for bit (an output of 18,000 within about 0.02).
""",
    "lightgbm": """```python
import lightgbm as lgb
booster = lgb.Booster(model_file="model.txt")
predictions = booster.predict(X)      # X: rows x features (float), NaN = missing
```
`model.json` holds the same signature in machine-readable form (`signature.features[*].categories`).
""",
}


def diff_phrase(check: dict[str, Any]) -> str:
    """`max abs diff 0.0118 (relative 6.5e-07, limit 1e-05)`: an ONNX check's absolute figure alone read
    as a failure beside '1e-6' when the outputs are prices of thousands."""
    relative = (f" (relative {check['max_rel_diff']:.2g}, limit {check['tolerance']:g})"
                if check.get("max_rel_diff") is not None and check.get("tolerance") is not None else "")
    return f"max abs diff {check['max_abs_diff']:.3g}{relative}"


def readme(model: ModelVersion, sig: Signature, fmt: str, check: dict[str, Any] | None) -> str:
    rows = "\n".join(f"| {i} | `{f.name}` | `{f.source}` | {encoding(f)} |" for i, f in enumerate(sig.features))
    checked = ""
    if check:
        checked = (f"\nChecked at export with {check['runtime']} against LightGBM on {check['rows']:,} training rows: "
                   f"{diff_phrase(check)}.\n")
    return f"""# {model.ref} exported as {fmt}

Model `{model.name}` version {model.version} ({sig.task}, target `{sig.target}`), LightGBM model
sha256 `{model.sha256}`, exported {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} by mlops-tui.

## Input: {len(sig.features)} features, in this order

The model reads numbers only. Encode each row the way mlops-tui does before it scores:

| # | feature | from input column | encoding |
|---|---|---|---|
{rows}

A missing value is NaN. A category that is not listed (never seen in training) is a missing value.

## Output

{_outputs(sig, fmt)}
{_decision(model, sig, fmt)}{checked}
## Run it

{_RUN[fmt]}"""
