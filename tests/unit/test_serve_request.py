"""The request fast path (serving/request.clean_matrix) builds exactly the matrix `encode` builds,
and leaves every request it cannot vouch for to the checked route."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlops_tui.serving.request import clean_matrix, parse_columns
from mlops_tui.training.signature import encode
from tests.scoring_helpers import credit_model, default_df


@pytest.fixture
def served(ws):
    from mlops_tui.serving.online import Online, Settings

    model = credit_model(ws)
    from mlops_tui.registry import models as registry

    registry.deploy(ws, model.ref, "credit")
    online = Online(ws, Settings(workspace=str(ws.root), deployment="credit", service_id="t"))
    online._load_current()
    return online.served


def test_clean_rows_give_the_matrix_encode_gives(served):
    df = default_df().head(200).drop("default")
    rows = df.to_dicts()
    rows[3]["balance"] = None
    rows[5]["student"] = None
    rows[7]["income"] = 12  # an int where floats are usual
    columns = parse_columns(json.dumps(rows).encode())
    X = clean_matrix(columns, served)
    import polars as pl

    expected, unseen = encode(pl.DataFrame(rows), served.sig)
    assert unseen == {}
    np.testing.assert_array_equal(X, expected.to_numpy())


@pytest.mark.parametrize("change", [
    {"student": "Maybe"}, {"student": 1}, {"student": True}, {"balance": "12"}, {"balance": True},
    {"zip": 1}, {"income": [1]}, {"income": 10**400},
], ids=str)
def test_anything_not_clean_takes_the_checked_route(served, change):
    row = {"customer_id": 1, "student": "No", "balance": 1.0, "income": 2.0, **change}
    assert clean_matrix(parse_columns(json.dumps([row]).encode()), served) is None


def test_a_missing_feature_takes_the_checked_route(served):
    assert clean_matrix(parse_columns(b'[{"student": "No", "balance": 1.0}]'), served) is None


def test_records_lacking_a_column_have_nulls_there():
    assert parse_columns(b'[{"a": 1, "b": 2}, {"a": 3}]') == {"a": [1, 3], "b": [2, None]}
    assert parse_columns(b'[{"b": 2, "a": 1}, {"a": 3, "b": 4}]') == {"b": [2, 4], "a": [1, 3]}
    assert parse_columns(b'[{"a": 1}, {"a": null}]') == {"a": [1, None]}
