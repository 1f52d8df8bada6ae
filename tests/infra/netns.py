"""Several "hosts" on one machine: Linux network namespaces joined by veth pairs to a bridge.

    with Network("pg") as net:                 # blackhole route for the subnet first, then namespaces
        db = net.add_host("db")                # namespace + veth to the bridge + an address
        w1 = net.add_host("w1")
        net.popen(w1, ["python", "-c", "..."])  # runs inside w1's namespace, hostname "w1"
        net.cut(w1); net.restore(w1)           # the veth's bridge end down / up: a network cut

Layout: the bridge lives in a namespace of its own (``<prefix>-br``); each host namespace holds the
``eth0`` end of a veth pair whose other end is a port of that bridge. The veth pairs are created
directly inside the namespaces (``ip -n``), so no test interface ever exists in the root namespace.

Safety (see ENGINES.md): the root namespace has a default route, so anything there that addressed
the test subnet would leave the machine. Before any namespace exists, ``ip route add blackhole
SUBNET`` is added in the root namespace, and every client is driven through ``ip netns exec``: the
root namespace never sends to those addresses. The subnet is one that no route of this machine
uses yet (so two test processes, or two helpers' suites, never share one), and everything is torn
down on exit, also after a failure: processes still in our namespaces are killed (only those: a
namespace holds nothing else), namespaces deleted, the route removed.

Needs root (namespaces, routes). ``require_root()`` fails under CI=true and skips elsewhere.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import shlex
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import pytest

IP = "ip"
TIMEOUT = 20  # seconds for any single setup or teardown command
_COUNTER = itertools.count()


def require_root(what: str = "network namespaces") -> None:
    """Root is needed for namespaces: under CI=true a missing capability is a failure, never a skip."""
    if os.geteuid() == 0:
        return
    message = f"{what} need root (run the suite as root, as CI does)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def claim_subnet(candidates: range = range(100, 250)) -> ipaddress.IPv4Network:
    """Add a blackhole route for a 10.213.X.0/24 that no route of this machine holds yet; return it.

    ``ip route add`` (not replace) fails when the route exists, so two test processes (or two
    helpers' suites) racing for one subnet cannot both get it."""
    start = os.getpid() % len(candidates)  # spread concurrent test processes over the range
    for i in range(len(candidates)):
        net = ipaddress.IPv4Network(f"10.213.{candidates[(start + i) % len(candidates)]}.0/24")
        if str(net) in _run(IP, "-4", "route", "show", "table", "all", check=False).stdout:
            continue
        if _run(IP, "route", "add", "blackhole", str(net), check=False).returncode == 0:
            return net
    raise RuntimeError("no free 10.213.X.0/24 test subnet left")


@dataclass(frozen=True)
class Host:
    """One namespace: its name, its address on the test subnet, its hostname, its bridge port."""

    name: str
    netns: str
    address: str
    port: str  # the veth end on the bridge (in the bridge namespace)
    hostname: str


class Network:
    """A bridge namespace and host namespaces on a fresh test subnet; a context manager."""

    def __init__(self, prefix: str = "mt") -> None:
        # Short, unique names: a namespace name is free-form, an interface name at most 15 bytes
        # (interfaces live inside our namespaces, so they need no unique names).
        self.prefix = f"{prefix}{os.getpid()}x{next(_COUNTER)}"
        self.subnet: ipaddress.IPv4Network | None = None
        self.bridge_ns = f"{self.prefix}-br"
        self.hosts: dict[str, Host] = {}
        self._namespaces: list[str] = []
        self._procs: list[subprocess.Popen[Any]] = []

    # -- setup -----------------------------------------------------------------------------------
    def __enter__(self) -> Network:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self.subnet = claim_subnet()  # the blackhole route, before any namespace exists
        self._add_ns(self.bridge_ns)
        _run(IP, "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
        _run(IP, "-n", self.bridge_ns, "link", "set", "br0", "up")

    def _add_ns(self, name: str) -> None:
        _run(IP, "netns", "add", name)
        self._namespaces.append(name)
        _run(IP, "-n", name, "link", "set", "lo", "up")

    def add_host(self, name: str, *, hostname: str | None = None) -> Host:
        """A namespace named ``<prefix>-<name>`` with address .N on the subnet; processes started in it
        see ``hostname`` (default ``name``; the machine's own name makes a host that stands for this one)."""
        assert self.subnet is not None, "start the network first"
        index = len(self.hosts) + 1
        netns, port = f"{self.prefix}-{name}", f"p{index}"
        address = str(self.subnet.network_address + 1 + index)
        self._add_ns(netns)
        _run(IP, "-n", self.bridge_ns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", netns)
        _run(IP, "-n", self.bridge_ns, "link", "set", port, "master", "br0", "up")
        _run(IP, "-n", netns, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", "eth0")
        _run(IP, "-n", netns, "link", "set", "eth0", "up")
        host = Host(name=name, netns=netns, address=address, port=port, hostname=hostname or name)
        self.hosts[name] = host
        return host

    # -- running things inside a host ------------------------------------------------------------
    @staticmethod
    def argv(host: Host, argv: list[str]) -> list[str]:
        """``argv`` inside ``host``'s namespace, with its own UTS namespace and hostname ``host.hostname``."""
        return [IP, "netns", "exec", host.netns, "unshare", "--uts", "--",
                "sh", "-c", 'hostname "$0" && exec "$@"', host.hostname, *argv]

    def popen(self, host: Host, argv: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start a process in ``host``; it is killed at teardown if still running."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.Popen(self.argv(host, argv), **kwargs)
        self._procs.append(proc)
        return proc

    def run(self, host: Host, argv: list[str], *, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.run(self.argv(host, argv), capture_output=True, text=True, timeout=timeout, **kwargs)

    # -- faults ----------------------------------------------------------------------------------
    def cut(self, host: Host) -> None:
        """Take the host's bridge port down: its packets go nowhere (TCP sessions stall, not reset)."""
        _run(IP, "-n", self.bridge_ns, "link", "set", host.port, "down")

    def restore(self, host: Host) -> None:
        _run(IP, "-n", self.bridge_ns, "link", "set", host.port, "up")

    # -- teardown --------------------------------------------------------------------------------
    def pids(self, netns: str) -> list[int]:
        proc = _run(IP, "netns", "pids", netns, check=False)
        return [int(p) for p in proc.stdout.split() if p.isdigit()]

    def close(self) -> None:
        """Kill what still runs in our namespaces, delete them, remove the route. Never raises."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
        for netns in self._namespaces:
            for _ in range(50):  # bounded: 50 x 0.1 s
                pids = self.pids(netns)
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, 9)
                time.sleep(0.1)
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        for netns in reversed(self._namespaces):
            _run(IP, "netns", "del", netns, check=False)
        self._namespaces.clear()
        if self.subnet is not None:
            _run(IP, "route", "del", "blackhole", str(self.subnet), check=False)
            self.subnet = None


@pytest.fixture
def network():
    """A fresh test network (see :class:`Network`); root needed, torn down also on failure."""
    require_root()
    with Network() as net:
        yield net
