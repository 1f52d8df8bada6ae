"""A real Dask cluster for the scoring tests: a scheduler and workers as "hosts" (network namespaces).

    with DaskHosts(net, workers=("w1", "w2")) as cluster:   # net: tests.infra.netns.Network
        net.run(cluster.client, [python, "-m", "mlops_tui", ..., "--scheduler", cluster.address])

The scheduler listens only on its namespace's address; every client (the readiness probe, the
`mlops-tui score` under test) runs inside the ``client`` host through ``ip netns exec``, never in
the root namespace (which routes the test subnet into a blackhole). The processes live in the
namespaces, so the Network's teardown kills them, also after a failure.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.infra.netns import Host, Network

PORT = 8786
READY_TIMEOUT = 60  # seconds for the scheduler and every worker to be up (a busy 2-core machine)

# Run inside the client host: wait until the scheduler has ``n`` workers; print their hostnames.
_PROBE = """
import sys
from distributed import Client
with Client(sys.argv[1], timeout=float(sys.argv[3])) as c:
    c.wait_for_workers(int(sys.argv[2]), timeout=float(sys.argv[3]))
    print(" ".join(sorted(c.run(__import__("socket").gethostname).values())))
"""


def require_dask() -> None:
    """Dask is a runtime dependency: missing is a failure under CI=true, a skip elsewhere."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("distributed is not installed (make installs it)")
        pytest.skip("distributed is not installed")


@dataclass
class DaskHosts:
    """A scheduler host, worker hosts (one single-threaded worker each) and a client host."""

    net: Network
    workers: tuple[str, ...] = ("w1", "w2")
    env: dict[str, str] = field(default_factory=dict)  # extra DASK_* settings for the scheduler
    scheduler: Host | None = None
    client: Host | None = None
    hosts: dict[str, Host] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[Any]] = field(default_factory=dict)

    @property
    def address(self) -> str:
        assert self.scheduler is not None
        return f"tcp://{self.scheduler.address}:{PORT}"

    def __enter__(self) -> DaskHosts:
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        self.scheduler = self.net.add_host("sched")
        self.client = self.net.add_host("client")
        self.procs["sched"] = self.net.popen(
            self.scheduler, [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                             self.scheduler.address, "--port", str(PORT), "--no-dashboard"],
            env={**os.environ, **self.env}, **quiet)
        for name in self.workers:
            self.start_worker(name)
        self.wait_ready()
        return self

    def start_worker(self, name: str) -> None:
        host = self.hosts.get(name) or self.net.add_host(name)
        self.hosts[name] = host
        self.procs[name] = self.net.popen(
            host, [sys.executable, "-m", "distributed.cli.dask_worker", self.address, "--host", host.address,
                   "--nthreads", "1", "--nworkers", "1", "--no-dashboard", "--name", name],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_ready(self) -> list[str]:
        """The hostnames of the connected workers, once all of them are there (bounded wait)."""
        assert self.client is not None
        proc = self.net.run(self.client, [sys.executable, "-c", _PROBE, self.address, str(len(self.workers)),
                                          str(READY_TIMEOUT)], timeout=READY_TIMEOUT + 30)
        assert proc.returncode == 0, f"Dask cluster not ready: {proc.stderr[-2000:]}"
        return proc.stdout.split()

    def kill_worker(self, name: str) -> None:
        """kill -9 every process of the worker's host (its nanny and its worker): a host that died."""
        for pid in self.net.pids(self.hosts[name].netns):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
