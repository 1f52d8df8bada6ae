"""`serve` on a compiled deployment: a real uvicorn process answers with the compiled model, the
same probabilities as LightGBM, and says which engine answers."""

from __future__ import annotations

import numpy as np
import pytest

from mlops_tui.registry import models as registry
from mlops_tui.training.signature import Signature, encode
from tests.compiled_helpers import holes, tiny_model
from tests.serve_helpers import serving

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("compiled")]


def test_a_compiled_deployment_serves_lightgbms_probabilities(ws, tmp_path):
    model, frame = tiny_model(ws, tmp_path, "multiclass")
    registry.deploy(ws, model.ref, "penguins", engine="compiled")
    rows = holes(frame.head(40), seed=9, share=0.2, keep=("species",)).drop("species")
    booster, _ = registry.load(ws, model)
    want = booster.predict(encode(rows, Signature.from_json(model.signature))[0].to_numpy())
    with serving(ws.root, deployment="penguins") as server:
        assert server.client.get("/metadata").json()["engine"] == "compiled"
        body = server.predict(rows.to_dicts()).json()
        one = server.predict(rows.to_dicts()[0]).json()
    classes = ["Adelie", "Chinstrap", "Gentoo"]
    got = np.array([[p[c] for c in classes] for p in body["probabilities"]])
    assert np.abs(got - want).max() <= 1e-9
    assert one["probabilities"] == body["probabilities"][:1]
