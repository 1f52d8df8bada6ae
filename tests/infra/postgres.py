"""A real PostgreSQL server started by the test suite: Debian's binaries, run as an unprivileged user.

    server = Postgres()                        # 127.0.0.1 on a free port
    server = Postgres(network=net, host=db)    # inside a test network's namespace, on db's address
    server.start(); server.url() -> "postgresql+psycopg://mlops:...@HOST:PORT/studies"
    server.restart(); server.stop(); server.close()

Why Debian's ``postgresql`` package and not the ``pgserver`` wheel: the multi-host tests need the
server to listen on TCP inside a network namespace (pgserver offers a unix socket only), and as root
pgserver changes the permissions of the data folder's parents. Debian's server starts in ~0.1 s
after a ~0.6 s initdb. ``initdb`` refuses to run as root, so both it and ``pg_ctl`` run through
``runuser -u postgres`` (the package's own system user) with the data folder under /tmp (root's
home is 0700). When the binaries are missing and we are root (CI), ``ensure_installed`` runs
``apt-get install postgresql`` once, under a file lock so parallel test workers do not race dpkg;
never sudo. Not root and no binaries: fail under CI=true, skip elsewhere.

Clients authenticate with a password (scram-sha-256) over TCP, so a wrong password is a real
refusal; the admin work (role, database) goes over the unix socket in the data folder.
"""

from __future__ import annotations

import fcntl
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.infra.netns import Host, Network

USER = "postgres"          # the system user Debian's package creates; the server runs as it
ROLE, PASSWORD, DATABASE = "mlops", "s3cret-test", "studies"
TIMEOUT = 60


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _unavailable(message: str) -> None:
    if _in_ci():
        pytest.fail(message)
    pytest.skip(message)


def bindir() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian keeps them out of PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("pg_ctl")
    return Path(which).resolve().parent if which else None


def ensure_installed() -> Path:
    """The bin folder, installing Debian's postgresql first when root and it is missing."""
    found = bindir()
    if found is not None and _user_exists():
        return found
    if os.geteuid() != 0:
        _unavailable("PostgreSQL is not installed and installing it needs root (apt-get install postgresql)")
    with open("/tmp/mlops-tui-apt.lock", "w") as lock:  # noqa: S108 - one lock for all test workers
        fcntl.flock(lock, fcntl.LOCK_EX)
        if bindir() is None or not _user_exists():
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            for argv in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "postgresql"]):
                proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
                if proc.returncode != 0:
                    pytest.fail(f"{' '.join(argv)} failed: {proc.stderr.strip()[-500:]}")
    found = bindir()
    if found is None:
        pytest.fail("apt-get installed postgresql but no pg_ctl was found under /usr/lib/postgresql")
    return found


def _user_exists() -> bool:
    try:
        pwd.getpwnam(USER)
        return True
    except KeyError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Postgres:
    """One server: a fresh data folder, a role with a password, a database for the studies."""

    def __init__(self, *, network: Network | None = None, host: Host | None = None) -> None:
        if os.geteuid() != 0:
            _unavailable("the PostgreSQL tests need root (initdb runs as the postgres user via runuser)")
        self.bin = ensure_installed()
        self.network, self.host = network, host
        self.address = host.address if host else "127.0.0.1"
        self.port = 5432 if host else free_port()  # a namespace has every port free
        self.dir = Path(tempfile.mkdtemp(prefix="mlops-pg-", dir="/tmp"))  # noqa: S108 - see module doc
        self.data = self.dir / "data"
        shutil.chown(self.dir, USER, USER)
        self.started = False

    # -- commands ----------------------------------------------------------------------------------
    def _as_user(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = ["runuser", "-u", USER, "--", str(self.bin / tool), *args]
        if self.network is not None and self.host is not None:
            argv = ["ip", "netns", "exec", self.host.netns, *argv]  # the server lives in the host
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
                              cwd=self.dir)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed: {(proc.stderr or proc.stdout).strip()}")
        return proc

    def psql(self, sql: str) -> str:
        """Run SQL as the superuser over the unix socket (admin work only)."""
        return self._as_user("psql", "-h", str(self.dir), "-p", str(self.port), "-U", "postgres", "-d", "postgres",
                             "-v", "ON_ERROR_STOP=1", "-Atc", sql).stdout

    # -- life cycle --------------------------------------------------------------------------------
    def start(self) -> Postgres:
        if not self.data.exists():
            self._as_user("initdb", "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                          "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")
            if self.network is not None and self.network.subnet is not None:
                with open(self.data / "pg_hba.conf", "a") as hba:  # clients on the test subnet, by password
                    hba.write(f"host all all {self.network.subnet} scram-sha-256\n")
            fresh = True
        else:
            fresh = False
        self._as_user("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w", "-t", "30",
                      "-o", f"-k {self.dir} -p {self.port} -c listen_addresses={self.address} "
                            "-c fsync=off -c max_connections=100", "start")
        self.started = True
        if fresh:
            self.psql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
            self.psql(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
        return self

    def stop(self, mode: str = "fast") -> None:
        if self.started:
            self._as_user("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop", check=False)
            self.started = False

    def restart(self) -> None:
        """Stop (fast: open sessions are cut) and start again on the same data and address."""
        self.stop("fast")
        self.start()

    def close(self) -> None:
        """Stop the server and remove its data folder; never raises."""
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Postgres:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- clients -----------------------------------------------------------------------------------
    def url(self, *, password: str | None = PASSWORD, host: str | None = None, database: str = DATABASE,
            port: int | None = None) -> str:
        """The SQLAlchemy URL a client uses (``password=None``: none in the URL)."""
        auth = f"{ROLE}:{password}" if password is not None else ROLE
        return f"postgresql+psycopg://{auth}@{host or self.address}:{port or self.port}/{database}"

    def env(self) -> dict[str, Any]:
        """Environment for a client that takes its password from libpq's PGPASSWORD."""
        return {"PGPASSWORD": PASSWORD}


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server on 127.0.0.1 for this test process (each xdist worker gets its own)."""
    with Postgres() as server:
        yield server
