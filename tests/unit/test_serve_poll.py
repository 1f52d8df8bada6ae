"""The service's deployment poll (serving.online): between heartbeats it opens the store only when
the store file changed, so repointing a deployment must change that file's stamp, and the next
poll must then find and load the new version."""

from __future__ import annotations

import pytest

from mlops_tui.registry import models as registry
from mlops_tui.serving.online import Online, Settings, store_stamp
from tests.serve_helpers import credit_deployment

pytestmark = pytest.mark.slow


def test_a_repointed_deployment_changes_the_store_stamp_and_is_served_at_the_next_poll(ws):
    credit_deployment(ws, versions=2)
    online = Online(ws, Settings(workspace=str(ws.root), deployment="credit", service_id="t"))
    online._load_current()
    online._poll(beat=True)  # the heartbeat's poll reads the deployment whatever the stamp
    seen = store_stamp(ws.store_path)
    online._poll(beat=False)
    assert online.served is not None and online.served.ref == "credit:1"

    registry.deploy(ws, "credit:2", "credit", force=True)
    assert store_stamp(ws.store_path) != seen
    online._poll(beat=False)
    assert (online.served.ref, online.swaps) == ("credit:2", 1)
