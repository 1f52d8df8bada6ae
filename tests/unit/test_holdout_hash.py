"""The holdout fingerprint every evaluation stores (`run compare`'s and the gate's "different
holdouts"): made with trained_rows' stable hash, so the same rows give the same fingerprint in any
Polars version (Polars' hash_rows, used before, is the same within one version only); old records'
hash_rows fingerprints are compared with one another only, never called a different holdout."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
import pytest

from mlops_tui.evaluation import evaluate as evaluation
from mlops_tui.evaluation import records
from mlops_tui.registry import gate
from tests.corpus_helpers import corpus_sets


def test_the_fingerprint_of_real_rows_is_pinned_and_order_free(tmp_path):
    (pima,) = corpus_sets(tmp_path / "corpus", ["pima"])
    rows = pl.read_csv(pima.path)  # MASS Pima.te: 332 rows, row_id, 7 measurements, type Yes/No
    fingerprint = evaluation.holdout_hash(rows)
    # pinned: a Polars or numpy upgrade must not change it (same holdout -> same hash, whenever made)
    assert fingerprint == PIMA
    assert evaluation.holdout_hash(rows.sample(fraction=1.0, shuffle=True, seed=3)) == fingerprint
    assert evaluation.holdout_hash(rows.select(reversed(rows.columns))) == fingerprint
    rows.write_parquet(tmp_path / "pima.parquet")
    assert evaluation.holdout_hash(pl.read_parquet(tmp_path / "pima.parquet")) == fingerprint
    assert evaluation.holdout_hash(rows.head(331)) != fingerprint


PIMA = "s1:2d022f0f6fb2d42c"


def _old_hash(df: pl.DataFrame) -> str:
    """What evaluations stored before: Polars' hash_rows (this Polars version's)."""
    return hashlib.sha256(np.sort(df.hash_rows(seed=7).to_numpy()).tobytes()).hexdigest()[:16]


def test_same_holdout_compares_fingerprints_of_one_scheme_only():
    new_a, new_b = "s1:0123456789abcdef", "s1:fedcba9876543210"
    assert evaluation.same_holdout(new_a, new_a) is True
    assert evaluation.same_holdout(new_a, new_b) is False
    assert evaluation.same_holdout("0123456789abcdef", "fedcba9876543210") is False  # two old records
    assert evaluation.same_holdout("0123456789abcdef", new_a) is None  # an old record and a new one
    assert evaluation.same_holdout(None, new_a) is None


@pytest.fixture
def policy_ws(ws):
    from mlops_tui.workspace import Workspace

    ws.config_path.write_text("[gate]\nmax_drop = 0.01\n")
    return Workspace.open(ws.root)  # config is read once per Workspace object


def test_an_old_records_fingerprint_is_not_called_a_different_holdout(policy_ws):
    """A champion evaluated before this change (a hash_rows fingerprint stored) and a challenger
    evaluated now on the same rows: the gate cannot tell from the hashes and goes by the dataset
    versions (the same: no "different holdouts")."""
    from tests.eval_helpers import trained

    ws = policy_ws
    _, booster, sig, test = trained(ws, "binary", name="d")
    versions = []
    for stored in ({"holdout_hash": _old_hash(test)}, {}):
        metrics = {"roc_auc": 0.9, "primary_metric": "roc_auc", **stored}
        m = ws.store.models.register(
            name="d",
            path="artifacts/models/x.txt",
            sha256="0" * 64,
            task="binary",
            signature=sig.to_json(),
            dataset="default",
            dataset_version=1,
            metrics=metrics,
        )
        evaluation.record_holdout(
            ws, run_id=None, model=m, booster=booster, signature=sig, test_df=test, metrics=metrics
        )
        versions.append(m)
    old, new = versions
    hashes = [records.holdout_of_model(ws, m).metrics["holdout_hash"] for m in versions]
    assert not hashes[0].startswith("s1:") and hashes[1].startswith("s1:")
    assert "holdouts" not in gate.check(ws, new, champion=old).checks["max_drop"]
