"""The tuned model's quality at a FIXED number of trials: a load-independent companion of vs_flaml.py.

    .venv/bin/python bench/tune_quality.py [--fraction 0.25] [--jobs 2] [--only oj,mpg] --out after.json
    .venv/bin/python bench/tune_quality.py --table before.json after.json   # side by side

vs_flaml.py gives each side T seconds, so on a shared machine the workbench gets whatever trials the
load leaves it, and two runs of it cannot be compared. Here every set gets the trials the workbench
reached in T seconds on a quiet machine (``--reference``: rows saved by ``vs_flaml.py --out``, which
also give FLAML's score there), times ``--fraction``: the score then depends on the code, not on
the machine. Each set: vs_flaml's split (same 75/25 rows), ``dataset add`` of the 75 %, ``tune
--trials N --jobs J --seed 0`` over the space `tune --timeout BUDGET` searches (``--budget``),
``score`` on the 25 %, vs_flaml's score(). The CPU seconds of the
`tune` process are printed too: a change that makes trials dearer gets fewer of them in T seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import corpus, vs_flaml  # noqa: E402

# The T=30 rows of a quiet `vs_flaml.py --budgets 30,120 --out` run (main 564c66a, 2026-12-03): kept
# in the repository so the comparison works from a fresh clone.
REFERENCE = ROOT / "bench" / "vs_flaml_t30.json"


def space_file(budget: float, work: Path) -> Path:
    """A space file giving `tune --trials` the space `tune --timeout BUDGET` searches (its rounds cap,
    patience and learning-rate floor scale with the budget; see space.default_space)."""
    from mlops_tui.training.tuning import space

    scaled = space.default_space(budget)
    settings = {k: v for k, v in scaled["settings"].items() if k != "pruner"}
    lr = scaled["params"]["learning_rate"]
    path = work / f"space-{budget:g}.toml"
    path.write_text("".join(f"{k} = {v}\n" for k, v in settings.items())
                    + f"[params.learning_rate]\nlow = {lr['low']}\nhigh = {lr['high']}\nlog = true\n")
    return path


def one(src: corpus.CorpusSet, task: str, trials: int, jobs: int, work: Path, space: Path, seed: int = 0) -> dict:
    import os

    import polars as pl

    work.mkdir(parents=True, exist_ok=True)
    train_csv, test_csv = vs_flaml.split(src, task, work)
    y_test = pl.read_csv(test_csv, infer_schema_length=None)[src.target].to_list()
    _, optimised = vs_flaml.METRIC[task]
    env = {**os.environ, "MLOPS_WORKSPACE": str(work / "ws"), "NO_COLOR": "1"}
    vs_flaml.run_cli(["dataset", "add", str(train_csv), "--name", src.name, "--target", src.target], env)
    cpu0, t0 = vs_flaml.children_cpu(), time.perf_counter()
    tuned = vs_flaml.run_cli(["tune", src.name, "--trials", str(trials), "--jobs", str(jobs), "--seed", str(seed),
                              "--metric", optimised, "--space", str(space)], env)
    wall, cpu = time.perf_counter() - t0, vs_flaml.children_cpu() - cpu0
    model = f"{tuned['model']['name']}:{tuned['model']['version']}"
    vs_flaml.run_cli(["score", model, str(test_csv), "--output", str(work / "ours.parquet")], env)
    ours = vs_flaml.score(task, y_test, *vs_flaml.predictions(work / "ours.parquet", task, prefix="proba_"))
    return {"set": src.name, "task": task, "trials": trials, "jobs": jobs, "seed": seed, "workbench": ours,
            "cv_value": tuned.get("best_value"), "tune_wall_s": wall, "tune_cpu_s": cpu}


def table(reference: list[dict], results: dict[str, list[dict]]) -> str:
    """One row per set: FLAML's quiet score, then each result file's score ('*': >= FLAML within
    0.002) and CPU seconds; per file: sets won and the mean score ratio against FLAML."""
    ref = {r["set"]: r for r in reference}
    names = list(results)
    head = f"{'set':<11} {'metric':<8} {'trials':>6} {'default':>8} {'FLAML':>8}" + "".join(
        f" {Path(n).stem[:14]:>14} {'cpu s':>6}" for n in names)
    lines = [head, "-" * len(head)]
    by_file = {n: {r["set"]: r for r in rows} for n, rows in results.items()}
    sets = [s for s in ref if any(s in rows for rows in by_file.values())]
    tallies = {n: [0, [], 0.0] for n in names}
    for s in sets:
        r = ref[s]
        trials = next(by_file[n][s]["trials"] for n in names if s in by_file[n])
        line = f"{s:<11} {r['metric']:<8} {trials:>6} {r['default']:>8.4f} {r['flaml']:>8.4f}"
        for n in names:
            row = by_file[n].get(s)
            if row is None:
                line += f" {'-':>14} {'-':>6}"
                continue
            ok, ratio = vs_flaml.verdict({**r, "workbench": row["workbench"]})
            tallies[n][0] += ok
            tallies[n][1].append(ratio)
            tallies[n][2] += row["tune_cpu_s"]
            line += f" {row['workbench']:>13.4f}{'*' if ok else ' '} {row['tune_cpu_s']:>6.1f}"
        lines.append(line)
    lines.append("")
    for n in names:
        wins, ratios, cpu = tallies[n]
        lines.append(f"{Path(n).stem}: >= FLAML (within 0.002) on {wins}/{len(ratios)}; mean score ratio "
                     f"{sum(ratios) / max(1, len(ratios)):.4f}; CPU {cpu:.0f} s")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", default=str(REFERENCE), help="vs_flaml.py --out rows (default: %(default)s)")
    ap.add_argument("--fraction", type=float, default=0.25, help="of the reference's trials (default: %(default)s)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="`tune --seed`: the search's, not the split's")
    ap.add_argument("--budget", type=float, default=30.0,
                    help="search the space of `tune --timeout BUDGET` (default: %(default)s)")
    ap.add_argument("--only", default="", help="comma-separated corpus sets (default: the reference's)")
    ap.add_argument("--out", default="", help="write the rows as JSON here (after each set)")
    ap.add_argument("--work", default="", help="working directory (default: a temporary one)")
    ap.add_argument("--mlops", default=vs_flaml.MLOPS, help="the mlops-tui to run (default: this checkout's)")
    ap.add_argument("--table", nargs="+", default=[], help="only print the table of these --out files")
    args = ap.parse_args()
    reference = json.loads(Path(args.reference).read_text())
    if args.table:
        print(table(reference, {n: json.loads(Path(n).read_text()) for n in args.table}))
        return
    vs_flaml.MLOPS = args.mlops
    wanted = [n for n in args.only.split(",") if n] or [r["set"] for r in reference]
    sets = corpus.materialise(corpus.DEFAULT_DIR, wanted)
    quiet = {r["set"]: r["trials"] for r in reference}
    work = Path(args.work or tempfile.mkdtemp(prefix="tune-quality-"))
    work.mkdir(parents=True, exist_ok=True)
    space = space_file(args.budget, work)
    runs = ((src.name, partial(one, src, corpus.BY_NAME[src.name].task,
                                max(10, round(quiet.get(src.name, 100) * args.fraction)), args.jobs, work / src.name, space, args.seed))
            for src in sets)
    rows = vs_flaml.collect(runs, args.out)
    print(table(reference, {args.out or "this run": rows}))


if __name__ == "__main__":
    main()
