"""Helpers for the serving tests: a real `mlops-tui serve` process (uvicorn) on 127.0.0.1.

Every server is started on a free port in a child process and always torn down (SIGTERM, then
kill -9 if it does not drain in time), also when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tests.monitor_helpers import register_dataset
from tests.scoring_helpers import default_df, signature_for, train_register

if TYPE_CHECKING:
    import polars as pl

START_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def credit_deployment(ws, *, versions: int = 1):
    """`credit:1..N` trained on sample_data/default.csv (registered as dataset default:1, so drift
    has a reference), `credit@production` on version 1 and deployment `credit` following it."""
    from mlops_tui.registry import models as registry

    df = default_df()
    register_dataset(ws, df, "default", "default", "binary")
    sig = signature_for(df, "default", "binary", categorical=("student",), id_columns=("customer_id",))
    models = [train_register(ws, df, sig, name="credit", rounds=10 + 5 * i, dataset="default", seed=i,
                             metrics={"primary_metric": "roc_auc", "roc_auc": 0.9})
              for i in range(versions)]
    registry.promote(ws, "credit:1", "production")
    registry.deploy(ws, "credit@production", "credit")
    return models


class Server:
    def __init__(self, root: Path, port: int, proc: subprocess.Popen, log: Path) -> None:
        self.root, self.port, self.proc, self.log = root, port, proc, log
        self.url = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(base_url=self.url, timeout=30.0)

    def predict(self, payload, **kwargs) -> httpx.Response:
        return self.client.post("/predict", json=payload, **kwargs)

    def terminate(self, timeout: float = 45.0) -> int:
        """SIGTERM (uvicorn drains) and wait; the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextlib.contextmanager
def serving(root: Path, *args: str, deployment: str = "credit", port: int | None = None) -> Iterator[Server]:
    """`mlops-tui serve DEPLOYMENT --port PORT ARGS...` in a child process (a free port unless
    given), ready when yielded."""
    port = port or free_port()
    log = root.parent / f"serve-{port}.log"
    env = {**os.environ, "NO_COLOR": "1"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlops_tui", "--workspace", str(root), "serve", deployment,
             "--port", str(port), *args], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(root, port, proc, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"serve exited with {proc.returncode}:\n{server.output()}")
            with contextlib.suppress(httpx.TransportError):
                if server.client.get("/ready").status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"serve not ready after {START_TIMEOUT_S} s:\n{server.output()}")
            time.sleep(0.1)
        yield server
    finally:
        server.client.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(45)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def pima_deployment(ws, rows: pl.DataFrame):
    """`pima:1` trained on real rows (MASS Pima.te from the corpus: seven numeric measurements of
    a patient, id `row_id`, target `type` Yes/No), registered as dataset pima:1 and deployed as `pima`."""
    from mlops_tui.registry import models as registry

    register_dataset(ws, rows, "pima", "type", "binary")
    sig = signature_for(rows, "type", "binary", id_columns=("row_id",))
    model = train_register(ws, rows, sig, name="pima", rounds=20, dataset="pima")
    registry.deploy(ws, model.ref, "pima")
    return model
