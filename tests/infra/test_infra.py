"""The test infrastructure itself: namespaced hosts reach a PostgreSQL inside another namespace,
the root namespace routes the subnet nowhere, a cut port stops traffic, everything is torn down."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.infra.netns import Network, require_root
from tests.infra.postgres import Postgres

pytestmark = pytest.mark.slow

# Connect with psycopg from inside a host; print the server's view of the client and our hostname.
PROBE = """
import socket, sys, psycopg
with psycopg.connect(sys.argv[1], connect_timeout=3) as con:
    addr = con.execute("select inet_client_addr()").fetchone()[0]
print(socket.gethostname(), addr)
"""


def _dsn(server: Postgres) -> str:
    return server.url().replace("postgresql+psycopg", "postgresql")


def test_hosts_reach_postgres_in_a_namespace_with_their_own_hostnames_and_addresses():
    require_root()
    with Network() as net:
        db, w1, w2 = net.add_host("db"), net.add_host("w1"), net.add_host("w2")
        with Postgres(network=net, host=db) as server:
            for host in (w1, w2):
                proc = net.run(host, [sys.executable, "-c", PROBE, _dsn(server)], timeout=30)
                assert proc.returncode == 0, proc.stderr
                assert proc.stdout.split() == [host.name, host.address]
            # The root namespace sends the subnet into a blackhole, never out of the machine.
            route = subprocess.run(["ip", "route", "get", db.address], capture_output=True, text=True)
            assert "blackhole" in route.stdout or route.returncode != 0

            net.cut(w1)
            proc = net.run(w1, [sys.executable, "-c", PROBE, _dsn(server)], timeout=30)
            assert proc.returncode != 0
            net.restore(w1)
            assert net.run(w1, [sys.executable, "-c", PROBE, _dsn(server)], timeout=30).returncode == 0
        names = list(net._namespaces)
        subnet = str(net.subnet)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(name in listed for name in names)
    assert subnet not in subprocess.run(["ip", "route", "show", "table", "all"], capture_output=True, text=True).stdout


def test_a_failure_inside_the_block_still_tears_everything_down():
    require_root()
    with pytest.raises(RuntimeError, match="boom"), Network() as net:
        host = net.add_host("w1")
        net.popen(host, ["sleep", "300"])
        names = list(net._namespaces)
        raise RuntimeError("boom")
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(name in listed for name in names)


def test_postgres_refuses_a_wrong_password_and_survives_a_restart(postgres):
    import psycopg

    with psycopg.connect(_dsn(postgres), connect_timeout=3) as con:
        assert con.execute("select 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(_dsn(postgres).replace("s3cret-test", "wrong"), connect_timeout=3)
    postgres.restart()
    with psycopg.connect(_dsn(postgres), connect_timeout=3) as con:
        assert con.execute("select 1").fetchone() == (1,)
