"""The workbench's tuning against FLAML at equal time, on the real data sets of bench/corpus.py.

    .venv/bin/python bench/vs_flaml.py [--budgets 30,120] [--only oj,fgl] [--out results.json]
    .venv/bin/python bench/vs_flaml.py --table-from results.json     # the table of saved rows

For each set: drop rows without a target and the R row names, one seeded 75/25 split (stratified for
classes) written as two CSV files; then, on the same rows in the same run,

* default LightGBM: LightGBM's scikit-learn estimator as shipped, fitted on the 75 %;
* FLAML: ``AutoML(estimator_list=["lgbm"], time_budget=T, n_jobs=-1, metric=M)`` on the 75 %;
* the workbench: ``dataset add`` of the 75 %, ``tune --timeout T`` (its defaults otherwise: every
  core, its own holdout inside the 75 %), ``score`` of the registered model on the 25 %.

Every score is computed here, by one function, from each side's predictions on the 25 %: ROC AUC
(binary), log loss (multiclass), R² (regression; both sides optimise RMSE, which ranks models on the
same rows exactly like R²). The table gives each score, the standard error of the difference
ours - FLAML (a paired bootstrap of the 25 %: both sides' predictions on the same resampled rows;
a difference within it is the test rows' luck as much as either side's), the wall time each
really took (FLAML: its fit, and "proc s" its whole process with imports and the default fit; the
workbench: the whole `tune` command, start-up included) and CPU/wall, the cores kept busy.

FLAML pins its own versions, so it lives in its own virtual environment, created by this bench on
first use (``--flaml-venv``, default $TMPDIR/mlops-tui-flaml-venv, ``pip install flaml[automl]``),
never in the project's dependencies. The machine may be shared: the two sides run one after the
other on the same machine state, so compare them within a row, not across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import corpus  # noqa: E402

MLOPS = str(ROOT / ".venv" / "bin" / "mlops-tui")
METRIC = {"binary": ("roc_auc", "roc_auc"), "multiclass": ("log_loss", "log_loss"), "regression": ("r2", "rmse")}
# (score shown, metric both sides optimise)


def flaml_python(venv: Path) -> str:
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"creating FLAML's virtual environment in {venv} (pip install flaml[automl]) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "flaml[automl]"], check=True)
    return str(py)


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def split(src: corpus.CorpusSet, task: str, work: Path) -> tuple[Path, Path]:
    import polars as pl
    from sklearn.model_selection import train_test_split

    df = pl.read_csv(src.path, infer_schema_length=None, null_values=["NA", ""])
    df = df.drop([c for c in ("row_id",) if c in df.columns]).filter(pl.col(src.target).is_not_null())
    strat = df[src.target].cast(pl.String).to_numpy() if task != "regression" else None
    train_idx, test_idx = train_test_split(range(df.height), test_size=0.25, random_state=0, stratify=strat)
    paths = work / "train.csv", work / "test.csv"
    df[sorted(train_idx)].write_csv(paths[0])
    df[sorted(test_idx)].write_csv(paths[1])
    return paths


def score(task: str, y_test: list, proba: dict[str, list[float]] | None, values: list[float] | None) -> float:
    """The table's score from one side's predictions (see the module doc)."""
    import numpy as np
    from sklearn import metrics as skm

    if task == "regression":
        return float(skm.r2_score(np.asarray(y_test, float), np.asarray(values, float)))
    classes = sorted(proba)
    matrix = np.column_stack([np.asarray(proba[c], float) for c in classes])
    matrix = np.clip(matrix, 1e-15, 1)
    matrix /= matrix.sum(axis=1, keepdims=True)
    y = [str(v) for v in y_test]
    if task == "binary":
        return float(skm.roc_auc_score([v == classes[1] for v in y], matrix[:, 1]))
    return float(skm.log_loss(y, matrix, labels=classes))


def paired_se(task: str, y_test: list, ours: tuple, theirs: tuple, draws: int = 200) -> float:
    """Standard error of score(ours) - score(theirs) over ``draws`` seeded bootstrap resamples of
    the test rows (``ours``/``theirs``: (proba, values) as from :func:`predictions`). A resample
    with one class only (no AUC) is skipped."""
    import numpy as np

    rng = np.random.default_rng(0)
    y = np.asarray(y_test, dtype=object)

    def at(side: tuple, idx: np.ndarray) -> float:
        proba, values = side
        return score(task, list(y[idx]), {c: list(np.asarray(v)[idx]) for c, v in proba.items()} if proba else None,
                     list(np.asarray(values)[idx]) if values is not None else None)

    diffs = []
    for _ in range(draws):
        idx = rng.integers(0, len(y), len(y))
        try:
            diffs.append(at(ours, idx) - at(theirs, idx))
        except ValueError:
            continue
    return float(np.std(diffs))


def predictions(path: Path, task: str, prefix: str = "") -> tuple[dict[str, list[float]] | None, list[float] | None]:
    import polars as pl

    df = pl.read_csv(path) if path.suffix == ".csv" else pl.read_parquet(path)
    if task == "regression":
        return None, df["prediction"].cast(pl.Float64).to_list()
    cols = [c for c in df.columns if c.startswith(prefix) and c != "prediction"]
    return {c[len(prefix):]: df[c].cast(pl.Float64).to_list() for c in cols}, None


def run_cli(args: list[str], env: dict[str, str]) -> dict:
    res = subprocess.run([MLOPS, *args, "--json"], capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"mlops-tui {' '.join(args)} failed: {res.stderr.strip()[-500:]}")
    return json.loads(res.stdout)


def one(src: corpus.CorpusSet, task: str, budget: float, py: str, work: Path) -> dict:
    import polars as pl

    work.mkdir(parents=True, exist_ok=True)
    train_csv, test_csv = split(src, task, work)
    y_test = pl.read_csv(test_csv, infer_schema_length=None)[src.target].to_list()
    shown, optimised = METRIC[task]
    row: dict = {"set": src.name, "task": task, "metric": shown, "rows": len(y_test) * 4, "budget_s": budget}

    # FLAML (and default LightGBM) in FLAML's venv
    cpu0, t0 = children_cpu(), time.perf_counter()
    res = subprocess.run([py, str(ROOT / "bench" / "_flaml_side.py"), str(train_csv), str(test_csv), src.target,
                          task, optimised, str(budget), str(work)], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"FLAML side failed on {src.name}: {res.stderr.strip()[-800:]}")
    info = json.loads(res.stdout.strip().splitlines()[-1])
    row.update(flaml_wall_s=info["wall_s"], flaml_cpu_per_wall=info["cpu_s"] / info["wall_s"],
               flaml_process_s=time.perf_counter() - t0, flaml_process_cpu_s=children_cpu() - cpu0)
    row["default"] = score(task, y_test, *predictions(work / "default.csv", task))
    flaml = predictions(work / "flaml.csv", task)
    row["flaml"] = score(task, y_test, *flaml)

    # the workbench, as a user runs it
    env = {**os.environ, "MLOPS_WORKSPACE": str(work / "ws"), "NO_COLOR": "1"}
    run_cli(["dataset", "add", str(train_csv), "--name", src.name, "--target", src.target], env)
    cpu0, t0 = children_cpu(), time.perf_counter()
    tuned = run_cli(["tune", src.name, "--timeout", str(budget), "--metric", optimised], env)
    wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    model = f"{tuned['model']['name']}:{tuned['model']['version']}"
    run_cli(["score", model, str(test_csv), "--output", str(work / "ours.parquet")], env)
    ours = predictions(work / "ours.parquet", task, prefix="proba_")
    row.update(tune_wall_s=wall, tune_cpu_per_wall=cpu / wall, trials=tuned.get("n_trials"),
               workbench=score(task, y_test, *ours), diff_se=paired_se(task, y_test, ours, flaml))
    shown_run = run_cli(["run", "show", tuned["run_id"]], env)
    row["protocol"] = shown_run.get("protocol", {}).get("kind")
    return row


def verdict(row: dict) -> tuple[bool, float]:
    """(workbench >= FLAML within 0.002, score ratio workbench/FLAML with higher = better)."""
    ours, theirs = row["workbench"], row["flaml"]
    if row["metric"] == "log_loss":
        return ours <= theirs + 0.002, theirs / ours
    return ours >= theirs - 0.002, ours / theirs


def table(rows: list[dict]) -> str:
    head = (f"{'set':<11} {'task':<10} {'metric':<8} {'T s':>4} {'default':>8} {'FLAML':>8} {'ours':>8} {'ok':>3} "
            f"{'+-SE':>6} "
            f"{'FLAML s':>7} {'proc s':>6} {'cpu/w':>5} {'ours s':>6} {'cpu/w':>5} {'trials':>6} protocol")
    lines = [head, "-" * len(head)]
    for budget in sorted({r["budget_s"] for r in rows}):
        part = [r for r in rows if r["budget_s"] == budget]
        for r in part:
            ok, _ = verdict(r)
            lines.append(f"{r['set']:<11} {r['task']:<10} {r['metric']:<8} {budget:>4.0f} {r['default']:>8.4f} "
                         f"{r['flaml']:>8.4f} {r['workbench']:>8.4f} {'yes' if ok else 'NO':>3} "
                         f"{format(r['diff_se'], '.4f') if 'diff_se' in r else '-':>6} "
                         f"{r['flaml_wall_s']:>7.1f} {r['flaml_process_s']:>6.1f} {r['flaml_cpu_per_wall']:>5.2f} "
                         f"{r['tune_wall_s']:>6.1f} "
                         f"{r['tune_cpu_per_wall']:>5.2f} {r['trials'] or 0:>6} {r.get('protocol') or ''}")
        wins = sum(verdict(r)[0] for r in part)
        ratios = [verdict(r)[1] for r in part]
        worst = max(r["tune_wall_s"] / budget for r in part)
        lines.append(f"T={budget:.0f}s: workbench >= FLAML (within 0.002) on {wins}/{len(part)}; mean score ratio "
                     f"workbench/FLAML {sum(ratios) / len(ratios):.4f}; slowest run {worst:.2f} x --timeout")
        lines.append(f"  differences beyond 2 SE: {_beyond(part, better=True)} for the workbench, "
                     f"{_beyond(part, better=False)} for FLAML (+-SE: paired bootstrap of the test rows)")
        lines.append("")
    return "\n".join(lines)


def _beyond(rows: list[dict], *, better: bool) -> str:
    """The sets where one side is ahead by more than twice the difference's standard error."""
    sign = {"log_loss": -1.0}
    names = [r["set"] for r in rows if "diff_se" in r
             and (1 if better else -1) * sign.get(r["metric"], 1.0) * (r["workbench"] - r["flaml"]) > 2 * r["diff_se"]]
    return ", ".join(names) or "none"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budgets", default="30,120", help="seconds, comma-separated (default: %(default)s)")
    ap.add_argument("--only", default="", help="comma-separated corpus sets (default: all)")
    ap.add_argument("--flaml-venv", default=str(Path(tempfile.gettempdir()) / "mlops-tui-flaml-venv"))
    ap.add_argument("--out", default="", help="also write the rows as JSON here (after each set)")
    ap.add_argument("--work", default="", help="working directory (default: a temporary one)")
    ap.add_argument("--table-from", default="", help="only print the table of rows saved with --out")
    args = ap.parse_args()
    if args.table_from:
        print(table(json.loads(Path(args.table_from).read_text())))
        return
    py = flaml_python(Path(args.flaml_venv))
    sets = corpus.materialise(corpus.DEFAULT_DIR, [n for n in args.only.split(",") if n] or None)
    work = Path(args.work or tempfile.mkdtemp(prefix="vs-flaml-"))
    rows = collect(((f"{src.name} T={budget:.0f}",
                     partial(one, src, corpus.BY_NAME[src.name].task, budget, py, work / f"{src.name}-{budget:.0f}"))
                    for budget in (float(b) for b in args.budgets.split(",")) for src in sets), args.out)
    print(table(rows))


def collect(runs: Iterable[tuple[str, Callable[[], dict]]], out: str) -> list[dict]:
    """The rows of ``runs`` ((label, run) pairs) in turn: each printed on stderr as it comes and all
    saved to ``out`` after each (a long bench keeps what it measured); a failed one is a line."""
    rows: list[dict] = []
    for label, run in runs:
        try:
            row = run()
        except RuntimeError as exc:
            print(f"{label}: {exc}", file=sys.stderr)
            continue
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
        if out:
            Path(out).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
