"""Drift per scoring job: real scoring jobs on the Bikeshare sample and on shifted credit data."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from mlops_tui.serving import scoring
from mlops_tui.serving.drift import PREDICTION, DriftTracker, psi, reference_path
from mlops_tui.workspace import Workspace
from tests.monitor_helpers import FIRST_HALF, bike_model, bikeshare, register_dataset
from tests.scoring_helpers import SAMPLE, default_df, signature_for, train_register

# One worker builds the module's shared workspace once (pytest -n 2 --dist loadgroup).
pytestmark = pytest.mark.xdist_group("drift")


@pytest.fixture(scope="module")
def bike(tmp_path_factory):
    """Model trained on 80% of Jan–Jun; one job on the other 20%, one on July."""
    tmp = tmp_path_factory.mktemp("bike")
    ws = Workspace.open(tmp / "ws", create=True)
    df = bikeshare().with_row_index("rid")
    first = df.filter(pl.col("mnth").is_in(FIRST_HALF))
    train = first.sample(fraction=0.8, seed=1)
    same = first.filter(~pl.col("rid").is_in(train["rid"].implode()))
    model = bike_model(ws, train.drop("rid"))
    jobs = {}
    for label, part in (("same", same), ("july", df.filter(pl.col("mnth") == "July"))):
        path = tmp / f"{label}.csv"
        part.drop("rid").write_csv(path)
        jobs[label] = scoring.score(ws, model.ref, [str(path)])
    return ws, model, jobs


def _by_feature(ws, job):
    return {r.feature: r for r in ws.store.jobs.drift([job.job_id])[job.job_id]}


def test_same_distribution_job_stays_ok(bike):
    ws, _, jobs = bike
    job = jobs["same"]
    assert job.drift_status == "ok"
    drift = _by_feature(ws, job)
    assert {r.status for r in drift.values()} == {"ok"}
    assert all(r.psi < 0.1 for r in drift.values())
    assert drift[PREDICTION].psi == pytest.approx(job.prediction_drift)


def test_a_later_month_alerts_on_the_seasonal_features(bike):
    ws, _, jobs = bike
    job = jobs["july"]
    assert job.drift_status == "alert"
    drift = _by_feature(ws, job)
    for feature in ("temp", "atemp", "season", "day"):
        assert drift[feature].status == "alert", feature
        assert drift[feature].psi > 0.25
        assert drift[feature].ks_pvalue < 0.001
    # July hours and weekdays look like any other month's.
    assert drift["hr"].status == "ok"
    assert drift["weekday"].status == "ok"
    assert drift["temp"].details["cur_mean"] > drift["temp"].details["ref_mean"]
    assert drift[PREDICTION].status == "alert"


def test_a_month_never_seen_in_training_counts_as_new_categories(bike):
    ws, _, jobs = bike
    mnth = _by_feature(ws, jobs["july"])["mnth"]
    assert mnth.kind == "categorical"
    assert mnth.new_categories == jobs["july"].rows_in == 744
    # ... and not as missing values: no July row lacks its month (the monitor read "nulls 0%→100%")
    assert mnth.null_rate_cur == 0.0 and mnth.null_rate_ref == 0.0
    assert mnth.details["new_or_missing_rate"] == 1.0
    assert mnth.status == "alert"


def test_the_reference_is_cached_beside_the_model(bike):
    ws, model, _ = bike
    path = reference_path(ws, model)
    assert path.exists()
    before = path.stat().st_mtime_ns
    tracker = DriftTracker(ws, model)
    assert tracker.ref["model_sha256"] == model.sha256
    assert path.stat().st_mtime_ns == before
    assert set(tracker.ref["features"]) == {f["name"] for f in model.signature["features"]}


def test_thresholds_come_from_the_workspace_config(bike, tmp_path):
    ws, model, _ = bike
    july = bikeshare().filter(pl.col("mnth") == "July").drop("date")
    from mlops_tui.training.signature import Signature, encode

    X, _ = encode(july, Signature.from_json(model.signature))
    loose = Workspace(ws.root)  # a fresh object reads config.toml again
    loose.__dict__["config"] = {"drift": {"psi_warn": 50.0, "psi_alert": 100.0, "ks_pvalue_alert": 0.0}}
    tracker = DriftTracker(loose, model)
    tracker.update(X, np.zeros(X.height))
    _, _, results, _ = tracker.finish("loose")
    assert {r.feature: r.status for r in results}["temp"] == "ok"


def test_batches_give_the_same_counts_as_one_pass(bike):
    ws, model, _ = bike
    from mlops_tui.training.signature import Signature, encode

    X, _ = encode(bikeshare().filter(pl.col("mnth") == "July"), Signature.from_json(model.signature))
    preds = np.linspace(0, 500, X.height)
    whole, parts = DriftTracker(ws, model), DriftTracker(ws, model)
    whole.update(X, preds)
    for start in range(0, X.height, 100):
        parts.update(X[start:start + 100], preds[start:start + 100])
    a = {r.feature: r for r in whole.finish("a")[2]}
    b = {r.feature: r for r in parts.finish("b")[2]}
    for name in a:
        assert a[name].psi == pytest.approx(b[name].psi), name
        assert a[name].null_rate_cur == b[name].null_rate_cur
    assert a["temp"].details["cur_counts"] == b["temp"].details["cur_counts"]


def test_shifted_and_missing_credit_features_alert_only_where_changed(ws, tmp_path):
    df = default_df()
    train = df.sample(fraction=0.7, seed=3)
    rest = df.filter(~pl.col("customer_id").is_in(train["customer_id"].implode()))
    register_dataset(ws, train, "default", "default", "binary")
    sig = signature_for(train, "default", "binary", categorical=("student",), id_columns=("customer_id",))
    model = train_register(ws, train, sig, name="credit", dataset="default")
    rng = np.random.default_rng(0)
    shifted = rest.with_columns(
        (pl.col("balance") * 1.6).alias("balance"),
        pl.when(pl.Series(rng.random(rest.height) < 0.3)).then(None).otherwise(pl.col("income")).alias("income"),
    )
    path = tmp_path / "shifted.parquet"
    shifted.write_parquet(path)
    job = scoring.score(ws, model.ref, [str(path)])
    drift = _by_feature(ws, job)
    assert drift["balance"].status == "alert"
    assert drift["income"].status == "alert"  # 30% missing where training had none
    assert drift["income"].null_rate_cur == pytest.approx(0.3, abs=0.03)
    assert drift["income"].psi < 0.1  # the values that are there did not move
    assert drift["student"].status == "ok"
    assert drift[PREDICTION].kind == "prediction" and drift[PREDICTION].status != "ok"
    assert job.drift_status == "alert"


def test_multiclass_prediction_drift_uses_predicted_class_frequencies(ws, tmp_path):
    penguins = pl.read_csv(SAMPLE / "penguins.csv")
    register_dataset(ws, penguins, "penguins", "species", "multiclass")
    sig = signature_for(penguins, "species", "multiclass", categorical=("island", "sex"))
    model = train_register(ws, penguins, sig, name="penguins", rounds=5, dataset="penguins")
    only_gentoo = penguins.filter(pl.col("species") == "Gentoo")
    path = tmp_path / "gentoo.csv"
    only_gentoo.write_csv(path)
    job = scoring.score(ws, model.ref, [str(path)])
    pred = _by_feature(ws, job)[PREDICTION]
    assert pred.details["cur_counts"][sig.classes.index("Gentoo")] > 0.9 * only_gentoo.height
    assert pred.psi > 0.25
    assert pred.status == "alert"
    assert job.drift_status == "alert"


def test_a_model_without_recorded_training_data_is_not_measured(ws, tmp_path):
    from tests.scoring_helpers import synthetic, synthetic_model

    model = synthetic_model(ws, n_train=500, rounds=5)
    path = tmp_path / "in.parquet"
    synthetic(200).write_parquet(path)
    job = scoring.score(ws, model.ref, [str(path)])
    assert job.status == "succeeded"
    assert job.drift_status is None and job.prediction_drift is None
    assert ws.store.jobs.drift([job.job_id])[job.job_id] == []
    assert job.warnings == []


def test_a_tiny_job_warns_but_does_not_alert(bike, tmp_path):
    ws, model, _ = bike
    path = tmp_path / "few.csv"
    bikeshare().filter(pl.col("mnth") == "July").head(40).write_csv(path)
    job = scoring.score(ws, model.ref, [str(path)])
    drift = _by_feature(ws, job)
    assert drift["temp"].psi > 0.25
    assert drift["temp"].status == "warn"
    assert job.drift_status == "warn"


def test_psi_is_zero_for_identical_bins_and_grows_with_the_shift():
    ref = [100, 100, 100, 100]
    assert psi(ref, [50, 50, 50, 50]) == pytest.approx(0.0)
    small, large = psi(ref, [110, 100, 100, 90]), psi(ref, [200, 100, 90, 10])
    expected = (0.275 - 0.25) * np.log(0.275 / 0.25) + (0.225 - 0.25) * np.log(0.225 / 0.25)
    assert small == pytest.approx(expected)
    assert large > 0.25 > small
    assert psi(ref, [0, 0, 0, 0]) is None


def _tuned(ws, tmp_path, df: pl.DataFrame, **options):
    """A real tuning run (2 trials, short) on ``df`` registered as dataset `bike`; returns (run, model)."""
    from mlops_tui.training import tuning
    from tests.monitor_helpers import SMALL_SPACE, add_dataset

    dv = add_dataset(ws, df, tmp_path)
    space = tmp_path / "space.toml"
    space.write_text(SMALL_SPACE)
    run = tuning.start(ws, tuning.TuneOptions(dataset=f"{dv.name}:{dv.version}", trials=2, space_file=str(space),
                                              name="bikes", **options), detach=False)
    return run, ws.store.models.get(run.model_name, run.model_version)


def test_the_reference_is_exactly_the_rows_the_model_was_fitted_on(ws, tmp_path):
    """Issue 11: 400 identical rows (crew on a passenger list) among 1,200. Matching the snapshot
    against the holdout on values dropped every copy; the reference must count each fitted row."""
    df = bikeshare().drop("date").sample(800, seed=2)
    crew = pl.concat([df.head(1)] * 400)
    data = pl.concat([df, crew]).sample(fraction=1.0, shuffle=True, seed=3)
    run, model = _tuned(ws, tmp_path, data)
    ref = DriftTracker(ws, model).ref
    split = run.prep["split"]
    assert ref["basis"] == "fitted rows" and ref["rows"] == split["train"] + split["valid"]
    holdout = pl.read_parquet(ws.run_dir(run.run_id) / "holdout.parquet")
    fitted = data["weathersit"].value_counts().join(holdout["weathersit"].value_counts(), on="weathersit",
                                                    how="left", suffix="_holdout").fill_null(0)
    expected = {r["weathersit"]: r["count"] - r["count_holdout"] for r in fitted.iter_rows(named=True)}
    entry = ref["features"]["weathersit"]
    assert dict(zip(entry["categories"], entry["counts"], strict=True)) == expected
    sample = tmp_path / "sample.csv"
    data.sample(700, seed=4).write_csv(sample)
    job = scoring.score(ws, model.ref, [str(sample)])
    assert {r.feature: r.status for r in ws.store.jobs.drift([job.job_id])[job.job_id]} == dict.fromkeys(
        [*ref["features"], PREDICTION], "ok")


def test_an_older_model_without_a_reference_gets_one_from_its_snapshot_less_a_time_holdout(ws, tmp_path):
    from mlops_tui.serving.drift import _legacy_training_frame, load_reference
    from mlops_tui.training.signature import Signature

    run, model = _tuned(ws, tmp_path, bikeshare().head(3000), time_column="date")
    reference_path(ws, model).unlink()  # as a model registered before training wrote references
    frame = _legacy_training_frame(ws, model, Signature.from_json(model.signature))
    holdout = pl.read_parquet(ws.run_dir(run.run_id) / "holdout.parquet")
    assert frame["date"].max() < holdout["date"].min()  # the holdout's period is left out
    fitted = run.prep["split"]["train"] + run.prep["split"]["valid"]
    assert fitted - 24 <= frame.height <= fitted  # at most the hours of the day the holdout starts on
    ref = load_reference(ws, model)
    assert ref["basis"].startswith("dataset snapshot") and ref["rows"] == frame.height
    assert reference_path(ws, model).exists()


def test_a_few_more_missing_values_than_in_training_are_not_new_categories(ws, tmp_path):
    """The README tour: penguins scored on the whole file, where `sex` is missing in 11 rows and
    the training rows had a slightly lower rate. Sampling noise, not a new category."""
    from mlops_tui.monitoring import monitor as monitoring
    from mlops_tui.registry import models as registry

    penguins = pl.read_csv(SAMPLE / "penguins.csv").with_row_index("i")
    dropped = penguins.filter(pl.col("sex").is_null()).head(3)["i"]
    train = penguins.filter(~pl.col("i").is_in(dropped.implode())).drop("i")
    register_dataset(ws, train, "penguins", "species", "multiclass")
    sig = signature_for(train, "species", "multiclass", categorical=("island", "sex"))
    model = train_register(ws, train, sig, name="penguins", rounds=5, dataset="penguins")
    registry.deploy(ws, model.ref, "penguins-batch")
    job = scoring.score(ws, "penguins-batch", [str(SAMPLE / "penguins.csv")])
    sex = _by_feature(ws, job)["sex"]
    assert sex.null_rate_cur > sex.null_rate_ref > 0
    assert sex.new_categories == 0 and sex.status == "ok"
    rows = {d.feature: d for d in monitoring.monitor(ws, "penguins-batch").jobs[0].drift}
    assert rows["sex"].new_categories == 0


def test_exact_unseen_counts_beat_the_estimate_from_missing_codes(bike):
    """Missing values where training had none look like unseen categories to the estimate; the
    encoder's exact counts, when the caller passes them, say there are none."""
    from mlops_tui.training.signature import Signature, encode

    ws, model, _ = bike
    june = bikeshare().filter(pl.col("mnth") == "June").with_row_index("i")
    holes = june.with_columns(pl.when(pl.col("i") % 15 == 0).then(None).otherwise(pl.col("weathersit"))
                              .alias("weathersit")).drop("i")
    X, unseen = encode(holes, Signature.from_json(model.signature))
    assert unseen == {}
    exact, estimated = DriftTracker(ws, model), DriftTracker(ws, model)
    exact.update(X, np.zeros(X.height), unseen)
    estimated.update(X, np.zeros(X.height))
    assert {r.feature: r for r in exact.finish("e")[2]}["weathersit"].new_categories == 0
    missing = holes["weathersit"].null_count()
    assert {r.feature: r for r in estimated.finish("s")[2]}["weathersit"].new_categories == missing


def test_exact_unseen_counts_name_a_month_never_seen_in_training(bike):
    from mlops_tui.training.signature import Signature, encode

    ws, model, _ = bike
    july = bikeshare().filter(pl.col("mnth") == "July")
    X, unseen = encode(july, Signature.from_json(model.signature))
    tracker = DriftTracker(ws, model)
    for start in range(0, X.height, 200):  # batch by batch, as the scorer does
        part = X[start:start + 200]
        tracker.update(part, np.zeros(part.height), {"mnth": part.height})
    assert unseen == {"mnth": july.height}
    assert {r.feature: r for r in tracker.finish("j")[2]}["mnth"].new_categories == july.height


def test_ks_on_full_samples_uses_the_asymptotic_pvalue_and_stays_fast():
    """The exact p-value is O(n·m): 0.2 s per feature at 5,000 rows a side, seconds per job."""
    import time

    from scipy.stats import ks_2samp

    from mlops_tui.serving.drift import SAMPLE_SIZE, ks_test

    rng = np.random.default_rng(0)
    ref, cur = rng.normal(size=SAMPLE_SIZE), rng.normal(size=SAMPLE_SIZE) + 0.05
    started = time.perf_counter()
    stat, p = ks_test(ref, cur)
    assert time.perf_counter() - started < 0.15
    assert p == pytest.approx(ks_2samp(ref, cur, method="asymp").pvalue)
    assert p == pytest.approx(ks_2samp(ref, cur, method="exact").pvalue, rel=0.2)
    small = ks_test(ref[:50], cur[:50])[1]  # few rows: scipy's exact p-value as before
    assert small == pytest.approx(ks_2samp(ref[:50], cur[:50]).pvalue)


def test_a_category_seen_once_keeps_its_share_when_no_category_was_seen_twice():
    """Good-Turing moves a value seen r times to (r + 1) n(r+1) / n(r): with no value seen twice that
    is 0, and a batch holding the rare value scored it as one the reference never expected (at a share
    of 1e-4). The adjustment stops at the first such gap: the counts keep their shares."""
    from mlops_tui.serving.drift import _with_expected_new

    reference = [1, 40, 50, 60, 3, 4]  # one value seen once, none twice, one 3 times, one 4 times
    expected = _with_expected_new(reference, nulls=0)
    assert expected[-1] == 1.0  # the new-value bucket: n1 = 1
    assert expected[:-1] == pytest.approx([c * (158 - 1) / 158 for c in reference])  # no gap: raw shares
