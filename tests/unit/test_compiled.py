"""The compiled engine: lleaves' native code scores like LightGBM, is cached per model, and is refused
in one line when it cannot be trusted. Real LightGBM models (tiny, so compiling takes < 1 s) on the
bundled sample data with missing values added, registered in a real workspace."""

from __future__ import annotations

import json
import shutil

import numpy as np
import polars as pl
import pytest

from mlops_tui.data import datasets
from mlops_tui.errors import UserError
from mlops_tui.registry import compiled
from mlops_tui.registry import models as registry
from mlops_tui.training.signature import Signature, encode
from tests.compiled_helpers import TASKS, holes, tiny_model

pytestmark = pytest.mark.xdist_group("compiled")


def lightgbm(ws, model, frame: pl.DataFrame, raw: bool = False) -> np.ndarray:
    booster, _ = registry.load(ws, model)
    X, _ = encode(frame, Signature.from_json(model.signature))
    return booster.predict(X.to_numpy(), raw_score=raw)


@pytest.mark.parametrize("task", TASKS)
def test_compiled_scores_equal_lightgbm_with_categoricals_and_missing_values(ws, tmp_path, task):
    model, frame = tiny_model(ws, tmp_path, task)
    sig = Signature.from_json(model.signature)
    assert sig.categorical_names, "the test model must have a categorical feature"
    # New rows: more holes than in training, and a category never seen (encoded as missing).
    fresh = holes(frame, seed=7, share=0.3)
    cat = sig.categorical_names[0]
    fresh = fresh.with_columns(pl.when(pl.int_range(pl.len()) % 11 == 0).then(pl.lit("never-seen"))
                               .otherwise(pl.col(cat).cast(pl.String)).alias(cat))
    X = encode(fresh, sig)[0].to_numpy()
    assert np.isnan(X).mean() > 0.2

    predictor = compiled.load(ws, model)
    assert np.abs(predictor.raw(X, threads=2) - lightgbm(ws, model, fresh, raw=True)).max() <= 1e-9
    got, want = predictor(X), lightgbm(ws, model, fresh)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= 1e-9
    check = predictor.info["check"]
    assert check["passed"] and check["max_abs_diff"] <= 1e-9 and check["rows"] > 0


def test_a_second_load_comes_from_the_cache_and_scores_the_same(ws, tmp_path):
    model, frame = tiny_model(ws, tmp_path, "binary")
    first = compiled.load(ws, model)
    again = compiled.load(ws, model)
    assert (first.info["cached"], again.info["cached"]) == (False, True)
    assert again.info["artifact"] == first.info["artifact"]
    assert again.info["artifact"].startswith(f"artifacts/compiled/{model.sha256}/")
    X = encode(frame, Signature.from_json(model.signature))[0].to_numpy()
    np.testing.assert_array_equal(again(X), first(X))


def test_the_cache_of_one_model_is_never_used_for_another(ws, tmp_path):
    a, frame = tiny_model(ws, tmp_path, "regression", rounds=3, name="a")
    b, _ = tiny_model(ws, tmp_path, "regression", rounds=6, name="b")
    pa = compiled.load(ws, a)
    obj_a = ws.abspath(pa.info["artifact"])
    # Plant a's object and sidecar where b's would go (what lleaves' own cache would load blindly).
    planted = compiled.artifact_dir(ws, b) / obj_a.name
    planted.parent.mkdir(parents=True)
    shutil.copy(obj_a, planted)
    shutil.copy(obj_a.with_suffix(".json"), planted.with_suffix(".json"))
    pb = compiled.load(ws, b)
    assert pb.info["cached"] is False and pb.info["model_sha256"] == b.sha256
    X = encode(frame, Signature.from_json(b.signature))[0].to_numpy()
    np.testing.assert_allclose(pb(X), lightgbm(ws, b, frame), rtol=0, atol=1e-9)
    assert np.abs(pb(X) - pa(X)).max() > 1e-3  # the two models really differ

    # Bytes altered after the sidecar was written: not loaded, compiled again.
    planted.write_bytes(planted.read_bytes()[:-16] + b"\0" * 16)
    again = compiled.load(ws, b)
    assert again.info["cached"] is False
    np.testing.assert_allclose(again(X), lightgbm(ws, b, frame), rtol=0, atol=1e-9)
    assert json.loads(planted.with_suffix(".json").read_text())["model_sha256"] == b.sha256


def test_a_compiled_model_that_differs_from_lightgbm_is_refused_and_leaves_no_artifact(ws, tmp_path, monkeypatch):
    model, _ = tiny_model(ws, tmp_path, "binary")
    monkeypatch.setattr(compiled, "TOLERANCE", -1.0)  # every difference, even 0, is now too large
    with pytest.raises(UserError, match=r"differs from LightGBM by .* on raw scores \(limit -1"):
        compiled.load(ws, model)
    assert list(compiled.artifact_dir(ws, model).iterdir()) == []


def test_models_the_engine_cannot_reproduce_are_refused_in_one_line(ws, tmp_path):
    import lightgbm as lgb

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((200, 3)), rng.standard_normal(200)
    linear = lgb.train({"objective": "regression", "linear_tree": True, "verbose": -1}, lgb.Dataset(X, label=y), 3)
    with pytest.raises(UserError, match="linear trees") as exc:
        compiled.Objective.of(linear.model_to_string(), "m:1")
    assert "\n" not in str(exc.value)
    ranker = lgb.train({"objective": "lambdarank", "verbose": -1},
                       lgb.Dataset(X, label=rng.integers(0, 3, 200), group=[20] * 10), 3)
    with pytest.raises(UserError, match="objective 'lambdarank' is not supported"):
        compiled.Objective.of(ranker.model_to_string(), "m:1")


def test_a_model_without_training_data_cannot_be_checked_and_is_refused(ws, tmp_path):
    model, _ = tiny_model(ws, tmp_path, "binary")
    dv = ws.store.datasets.get(model.dataset, model.dataset_version)
    datasets.snapshot_path(ws, dv).unlink()
    with pytest.raises(UserError, match="snapshot of .* is missing"):
        compiled.load(ws, model)
