"""The default search space and the averaged model of a cross-validated run (real LightGBM)."""

from __future__ import annotations

import numpy as np
import polars as pl

from tests.conftest import SAMPLE


def test_category_settings_are_tuned_only_when_the_data_has_a_categorical_column():
    from mlops_tui.training.tuning.space import default_space, warm_starts

    numeric, categorical = default_space()["params"], default_space(categorical=True)["params"]
    assert "min_data_per_group" not in numeric and "cat_smooth" not in numeric
    assert categorical["min_data_per_group"] == {"low": 2, "high": 100, "log": True}
    # The warm starts follow the space: LightGBM's own category defaults first, then a small-data one.
    warm = warm_starts(default_space(categorical=True), rows=300, features=6)
    assert [(w["min_data_per_group"], w["cat_smooth"]) for w in warm[:2]] == [(100, 10.0), (10, 1.0)]
    assert all("cat_smooth" not in w for w in warm_starts(default_space(), rows=300, features=6))


def _penguin_folds():
    """Three fold models of 7 rounds on penguins (3 classes: 21 trees each) and the prepared data."""
    import lightgbm as lgb

    from mlops_tui.training import prep
    from mlops_tui.training.tuning import train

    p = prep.prepare(pl.read_csv(SAMPLE / "penguins.csv", null_values=["NA", ""]), target="species")
    params = {**train.base_params(p.task, len(p.classes), "log_loss", seed=0), "num_leaves": 4,
              "min_data_per_group": 5, "cat_smooth": 1.0}
    data = train.fitted_dataset(p, params).data
    folds = lgb.cv(params, data, num_boost_round=7, nfold=3, stratified=False, seed=0,
                   return_cvbooster=True)["cvbooster"].boosters
    return folds, p


def test_an_averaged_model_predicts_the_mean_raw_score_of_its_models_and_round_trips():
    import lightgbm as lgb

    from mlops_tui.training.tuning import train

    folds, p = _penguin_folds()
    averaged = train.average(folds)
    X, _ = p.xy(p.test)
    raw = np.mean([b.predict(X, raw_score=True) for b in folds], axis=0)
    assert averaged.num_trees() == 3 * 7 * 3
    assert np.allclose(averaged.predict(X, raw_score=True), raw, rtol=0, atol=1e-12)
    probabilities = np.exp(raw) / np.exp(raw).sum(axis=1, keepdims=True)
    assert np.allclose(averaged.predict(X), probabilities, rtol=0, atol=1e-12)
    # SHAP values add up over trees too; and the model file reads back to the same predictions.
    contrib = np.mean([b.predict(X, pred_contrib=True) for b in folds], axis=0)
    assert np.allclose(averaged.predict(X, pred_contrib=True), contrib, rtol=0, atol=1e-9)
    again = lgb.Booster(model_str=averaged.model_to_string())
    assert np.array_equal(again.predict(X), averaged.predict(X))


def _leaves(node: dict) -> list[float]:
    if "leaf_value" in node:
        return [node["leaf_value"]]
    return _leaves(node["left_child"]) + _leaves(node["right_child"])


def test_an_averaged_model_keeps_every_tree_and_divides_its_leaves_exactly(tmp_path):
    from mlops_tui.training.modelfile import save_model, verified_bytes
    from mlops_tui.training.tuning import train

    folds, _ = _penguin_folds()
    averaged = train.average(folds)
    trees = [t["tree_structure"] for t in averaged.dump_model()["tree_info"]]
    fold_trees = [t["tree_structure"] for b in folds for t in b.dump_model()["tree_info"]]
    assert len(trees) == len(fold_trees) == 63
    # The same splits, each leaf the fold model's value / 3 to the last bit (not merely close).
    for tree, fold_tree in zip(trees, fold_trees, strict=True):
        assert _leaves(tree) == [v / 3 for v in _leaves(fold_tree)]
        assert tree.get("split_feature") == fold_tree.get("split_feature")
    # The model file holds LightGBM's own text of the model, byte for byte, also past the 1 MiB at
    # which model_to_string serialises twice (what `run reproduce` and the checksum compare).
    big = train.average(folds * 40)
    path, digest = save_model(big, {"task": "multiclass"}, tmp_path)
    text = big.model_to_string().encode()
    assert len(text) > 1 << 20 and big.num_trees() == 40 * 63
    assert verified_bytes(path, digest) == text
