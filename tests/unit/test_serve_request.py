"""The request fast path (serving/request.clean_records, clean_columns) builds exactly the matrix
`encode` builds, and leaves every request it cannot vouch for to the checked route."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlops_tui.serving.body import Refused, parse, to_columns, to_frame
from mlops_tui.serving.checks import check_request
from mlops_tui.serving.request import clean_columns, clean_records
from mlops_tui.training.signature import Feature, Signature, encode
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
    records = json.loads(json.dumps(rows))
    import polars as pl

    expected, unseen = encode(pl.DataFrame(rows), served.sig)
    assert unseen == {}
    for X, ids in (clean_records(records, served), clean_columns(to_columns(records), served)):
        np.testing.assert_array_equal(X, expected.to_numpy())
        assert ids == {"customer_id": [r["customer_id"] for r in rows]}


@pytest.mark.parametrize("change", [
    {"student": "Maybe"}, {"student": 1}, {"student": True}, {"balance": "12"}, {"balance": True},
    {"zip": 1}, {"income": [1]}, {"income": 10**400},
], ids=str)
def test_anything_not_clean_takes_the_checked_route(served, change):
    good = {"customer_id": 2, "student": "Yes", "balance": 3.0, "income": 4.0}
    row = {"customer_id": 1, "student": "No", "balance": 1.0, "income": 2.0, **change}
    for records in ([row], [good, row]):
        assert clean_records(records, served) is None
        assert clean_columns(to_columns(records), served) is None


@pytest.mark.parametrize("body", [
    b'[{"customer_id": 1, "student": "No", "balance": NaN, "income": 2.0}]',
    b'[{"customer_id": 1, "student": "No", "balance": 1.0, "income": -Infinity}]',
    b'[{"customer_id": 1, "student": "No", "balance": 1e400, "income": 2.0}]',
    b'[{"customer_id": NaN, "student": "No", "balance": 1.0, "income": 2.0}]',
    b'[{"customer_id": 1e400, "student": "No", "balance": 1.0, "income": 2.0}]',
], ids=["NaN", "-Infinity", "1e400", "NaN id", "1e400 id"])
def test_non_finite_numbers_take_the_checked_route(served, body):
    records = parse(body)
    assert clean_records(records, served) is None
    assert clean_columns(to_columns(records), served) is None


def test_booleans_are_no_surprise_in_a_feature_trained_on_a_boolean_column():
    sig = Signature("binary", "y", (Feature("member", "numeric", "member", "Boolean"),
                                    Feature("visits", "numeric", "visits", "Int64")), ("no", "yes"))
    columns = {"member": [True, False, None], "visits": [3, True, 1]}
    with pytest.raises(Refused) as refused:
        check_request(to_frame(columns), columns, sig, "m:1", lenient=False)
    assert refused.value.body["problems"] == ["column 'visits' should be numeric but has true/false, e.g. true "
                                              "(record 1): refused (serve --lenient reads true as 1, false as 0)"]
    columns["visits"] = [3, 2, 1]
    assert check_request(to_frame(columns), columns, sig, "m:1", lenient=False) == []


def test_a_missing_feature_takes_the_checked_route(served):
    records = [{"student": "No", "balance": 1.0}]
    assert clean_records(records, served) is None
    assert clean_columns(to_columns(records), served) is None


def test_records_with_other_keys_than_the_first_take_the_checked_route(served):
    good = {"customer_id": 2, "student": "Yes", "balance": 3.0, "income": 4.0}
    for other in ({**good, "zip": 1}, {k: v for k, v in good.items() if k != "customer_id"}, [1, 2, 3, 4]):
        assert clean_records([good, other], served) is None


def test_records_lacking_a_column_have_nulls_there():
    assert to_columns([{"a": 1, "b": 2}, {"a": 3}]) == {"a": [1, 3], "b": [2, None]}
    assert to_columns([{"b": 2, "a": 1}, {"a": 3, "b": 4}]) == {"b": [2, 4], "a": [1, 3]}
    assert to_columns([{"a": 1}, {"a": None}]) == {"a": [1, None]}
