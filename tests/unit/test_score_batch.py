"""The per-batch seam (mlops_tui.serving.batch): what Dask workers, HTTP and compiled engines share."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from mlops_tui.errors import UserError
from mlops_tui.registry import models as registry
from mlops_tui.serving import batch
from mlops_tui.serving.drift import DriftTracker, load_reference
from mlops_tui.training.signature import Signature
from tests.monitor_helpers import register_dataset
from tests.scoring_helpers import SAMPLE, credit_model, default_df, penguins_model


@pytest.fixture
def credit(ws):
    register_dataset(ws, default_df(), "default", "default", "binary")
    return credit_model(ws)


def test_halves_scored_apart_merge_into_the_stats_and_rows_of_one_pass(ws, credit):
    df = default_df()
    booster, _ = registry.load(ws, credit)
    spec = batch.BatchSpec.for_model(credit, datetime(2026, 1, 1, tzinfo=UTC), keep=["customer_id"],
                                     drift_ref=load_reference(ws, credit))
    predict = batch.lightgbm_predictor(booster, threads=1)
    whole = batch.score_batch(df, spec, predict, seed=1)
    first = batch.score_batch(df[:4000], spec, predict, seed=1)
    second = batch.score_batch(df[4000:], spec, predict, seed=2)
    merged = batch.BatchStats()
    merged.merge(first.stats)
    merged.merge(second.stats)

    assert whole.table.column_names == ["customer_id", "prediction", "proba_No", "proba_Yes",
                                        "model_name", "model_version", "scored_at"]
    assert pl.concat([pl.from_arrow(first.table), pl.from_arrow(second.table)]).equals(pl.from_arrow(whole.table))
    assert merged.rows == whole.stats.rows == df.height
    assert merged.nulls == whole.stats.nulls
    a, b = DriftTracker(ws, credit), DriftTracker(ws, credit)
    a.merge(whole.stats.drift)
    b.merge(merged.drift)
    ra = {r.feature: r for r in a.finish("a")[2]}
    rb = {r.feature: r for r in b.finish("b")[2]}
    for name, r in ra.items():
        assert r.psi == pytest.approx(rb[name].psi), name
        assert r.details.get("cur_counts") == rb[name].details.get("cur_counts")
    assert b.stats.sample.rows.shape == a.stats.sample.rows.shape  # both full 5000-row samples


def test_check_frame_lists_every_problem_in_one_line(credit):
    df = default_df().drop("balance").with_columns(pl.col("income").cast(pl.String).replace("1", "lots"))
    bad = df.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("lots")).otherwise(pl.col("income"))
                          .alias("income"))
    with pytest.raises(UserError) as err:
        batch.check_frame(bad, Signature.from_json(credit.signature), credit.ref)
    msg = str(err.value)
    assert "\n" not in msg
    assert "missing feature column(s): balance" in msg
    assert "column 'income' should be numeric but has text, e.g. 'lots'" in msg


def test_any_predictor_can_be_injected(ws, credit):
    """A compiled model only has to map the encoded float matrix to Booster.predict's output."""
    df = default_df()[:100]
    spec = batch.BatchSpec.for_model(credit, datetime(2026, 1, 1, tzinfo=UTC))
    seen: list[np.ndarray] = []

    def constant(X: np.ndarray) -> np.ndarray:
        seen.append(X)
        return np.full(X.shape[0], 0.25)

    out = pl.from_arrow(batch.score_batch(df, spec, constant).table)
    assert seen[0].shape == (100, len(spec.sig.features)) and seen[0].dtype == np.float64
    assert out["proba_Yes"].to_list() == [0.25] * 100
    assert set(out["prediction"]) == {"No"}


def test_an_empty_batch_of_a_multiclass_model_has_a_probability_column_per_class(ws):
    """LightGBM predicts 0 rows of a multiclass model as shape (0,), not (0, classes): read as a
    binary model's scores that gave 2 probability columns for 3 names, and failed every Dask job
    of a multiclass model (each part first writes an empty batch) and an empty input scored locally."""
    model = penguins_model(ws)
    booster, _ = registry.load(ws, model)
    spec = batch.BatchSpec.for_model(model, datetime(2026, 1, 1, tzinfo=UTC))
    empty = pl.read_csv(SAMPLE / "penguins.csv").head(0)

    out = batch.score_batch(empty, spec, batch.lightgbm_predictor(booster, threads=1)).table

    assert out.num_rows == 0
    assert out.column_names == ["prediction", "proba_Adelie", "proba_Chinstrap", "proba_Gentoo",
                                "model_name", "model_version", "scored_at"]
