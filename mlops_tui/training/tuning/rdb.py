"""A run's Optuna study on PostgreSQL, so tuning workers on other hosts can join it.

By default a study lives in the run's journal file (one host). With ``tune --storage URL`` (or
``[tuning] storage`` in config.toml) it lives in Optuna's ``RDBStorage`` instead, and this module
is everything that differs about opening it:

* the URL: a password in it is never written to the store (``public_url``); libpq takes it from
  ``PGPASSWORD`` or ``~/.pgpass`` as usual, and a password given in the URL is handed on that way;
* the connection: ``pool_pre_ping`` (a connection cut by a server restart is replaced, not used),
  a connect timeout and TCP timeouts, so a worker whose network is cut notices in seconds instead
  of waiting for the kernel's retransmissions (~15 min);
* heartbeats: ``heartbeat_interval``/``grace_period`` make Optuna fail a trial whose worker stopped
  beating (kill -9, network cut). A heartbeat that cannot be written (the server restarting) is
  logged and retried at the next beat instead of ending the beating thread, so a short outage
  does not fail a trial that is still running;
* the run's shared state, kept as study user attributes so a worker on another host needs nothing
  but the URL: the run's record and config (``mlops:run``), the trial budget (``mlops:budget``),
  the run's state (``mlops:state``: running, finishing, stopping, ended) and one entry per worker
  (``mlops:worker:HOST:PID``) that the worker refreshes while it lives;
* errors: a refused or unreachable database is one line (``UserError``) naming the URL and reason.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from mlops_tui.errors import UserError
from mlops_tui.results import JsonDict

if TYPE_CHECKING:
    import optuna

log = logging.getLogger("mlops_tui.training.tuning")
T = TypeVar("T")

JOURNAL = "journal"  # `--storage journal`: the run's own journal file, even when config.toml names a database
SCHEMES = ("postgresql", "postgresql+psycopg")
HEARTBEAT_INTERVAL, GRACE_PERIOD = 5, 20  # seconds; [tuning] in config.toml overrides both
CONNECT_TIMEOUT = 5  # seconds to open a connection
TCP_USER_TIMEOUT_MS = 10_000  # unacknowledged data for this long: the connection is dead
# Settings of each of our sessions on the server. A worker cut off the network in the middle of a
# transaction leaves its session open on the server, holding row locks (a trial's row) until the
# server notices, which with default TCP settings takes hours: the others' stale-trial check would
# wait on that lock for as long. So the server ends such a session after 10 s idle in a
# transaction or 10 s of unacknowledged data, and a statement waits at most 10 s for a lock (then
# fails and is retried like a lost connection).
SESSION_OPTIONS = ("-c idle_in_transaction_session_timeout=10000 -c lock_timeout=10000 "
                   "-c tcp_user_timeout=10000 -c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 "
                   "-c tcp_keepalives_count=3")
RUN, BUDGET, STATE, WORKER = "mlops:run", "mlops:budget", "mlops:state", "mlops:worker:"
# States of a run as its workers see them: only "running" starts new trials.
RUNNING, FINISHING, STOPPING, ENDED = "running", "finishing", "stopping", "ended"


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def parse(url: str) -> Any:
    """The URL as SQLAlchemy reads it; a malformed or non-PostgreSQL URL is one line."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        parsed = None
    if parsed is None or parsed.drivername not in SCHEMES or not parsed.host or not parsed.database:
        raise UserError(f"--storage {public_url(url)!r} is not a PostgreSQL URL; "
                        "expected postgresql+psycopg://USER@HOST:PORT/DATABASE")
    return parsed.set(drivername="postgresql+psycopg")


def public_url(url: str) -> str:
    """The URL without its password: what the store and the output show."""
    try:
        from sqlalchemy.engine import make_url

        # (URL.set(password=None) keeps the password: None means "unchanged" there)
        return make_url(url)._replace(password=None).render_as_string(hide_password=False)
    except Exception:  # noqa: BLE001 - a malformed URL: show it minus anything after a colon in the netloc
        head, _, tail = url.partition("://")
        creds, at, rest = tail.rpartition("@")
        return f"{head}://{creds.split(':')[0]}{at}{rest}" if at else url


def use_password_from(url: str) -> str:
    """Hand a password given in the URL to libpq through ``PGPASSWORD`` (this process and the
    workers it starts), and return the URL without it."""
    parsed = parse(url)
    if parsed.password:
        os.environ["PGPASSWORD"] = str(parsed.password)
    return str(parsed._replace(password=None).render_as_string(hide_password=False))


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling (bounded: chains are short)."""
    out: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(out) < 10:
        out.append(seen)
        seen = seen.__cause__ or seen.__context__
    return out


def one_line(exc: BaseException) -> str:
    """The database's reason in one line: psycopg's message, not the wrappers' (Optuna's
    StorageInternalError blames "invalid data" for any failed commit) nor SQLAlchemy's footer."""
    from sqlalchemy.exc import DBAPIError

    chain = _chain(exc)
    orig = next((e.orig for e in chain if isinstance(e, DBAPIError) and e.orig is not None), exc)
    text = " ".join(str(orig).split("\n(Background")[0].split())
    return text.removeprefix("connection failed: ") or type(exc).__name__


def is_connection_error(exc: BaseException) -> bool:
    """A database that went away or cannot be reached (as opposed to a bug or bad input). The
    whole chain is looked at: Optuna may raise its own error while handling a lost connection."""
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.exc import DBAPIError, OperationalError

    return any(isinstance(e, OperationalError | StorageInternalError)
               or (isinstance(e, DBAPIError) and e.connection_invalidated) for e in _chain(exc))


# When the study database last answered a call of this process (monotonic seconds), whichever thread
# made it: the trial loop, Optuna's trial heartbeats, the worker's entry. A loop that gives up says
# how long the database has really been silent, not only since its own first error (a cut-off
# worker's loop learns of the cut when its trial ends, long after the heartbeats did).
_answered_at = time.monotonic()


def answered() -> None:
    """The database just answered a call of this process."""
    global _answered_at
    _answered_at = time.monotonic()


def silent_for() -> float:
    """Seconds since the database last answered a call of this process."""
    return time.monotonic() - _answered_at


def retrying(call: Callable[[], T], *, limit_s: float, interval: float = 1.0) -> T:
    """``call()``, repeated while the database does not answer (a restart, a network blip) for at
    most ``limit_s``; any other error, or a database still gone by then, is raised."""
    deadline = time.monotonic() + limit_s
    while True:
        try:
            return call()
        except Exception as exc:
            if not is_connection_error(exc) or time.monotonic() >= deadline:
                raise
            log.warning("study database not answering (%s); retrying", one_line(exc))
            time.sleep(interval)


def open_storage(url: str, *, heartbeat_interval: int | None = None,
                 grace_period: int | None = None) -> optuna.storages.RDBStorage:
    """Optuna's RDBStorage on ``url`` (see the module doc); a refused connection is a UserError."""
    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import RDBStorage
    from sqlalchemy.exc import SQLAlchemyError

    class _Storage(RDBStorage):
        def record_heartbeat(self, trial_id: int) -> None:
            try:
                super().record_heartbeat(trial_id)
                answered()
            except Exception as exc:  # noqa: BLE001 - Optuna's beating thread would die of it
                log.warning("heartbeat of trial id %d not written (%s); retrying", trial_id, one_line(exc))

    engine = {"pool_pre_ping": True, "pool_size": 2,
              "connect_args": {"connect_timeout": CONNECT_TIMEOUT, "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
                               "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
                               "keepalives_count": 3, "application_name": "mlops-tui",
                               "options": SESSION_OPTIONS}}
    parsed = parse(url)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)  # heartbeat_interval is "experimental"
            return _Storage(parsed.render_as_string(hide_password=False), engine_kwargs=engine,
                            heartbeat_interval=heartbeat_interval, grace_period=grace_period)
    except SQLAlchemyError as exc:
        reason = one_line(exc)
        if "no password supplied" in reason:
            reason += " (give it with PGPASSWORD or ~/.pgpass: it is never kept in the store)"
        raise UserError(f"cannot open the study database {public_url(url)}: {reason}") from exc


def settings(config: dict[str, Any]) -> dict[str, int]:
    """Heartbeat interval and grace period of a run (from its config, else the defaults)."""
    return {"heartbeat_interval": int(config.get("heartbeat_interval") or HEARTBEAT_INTERVAL),
            "grace_period": int(config.get("grace_period") or GRACE_PERIOD)}


def reconnect_s(config: dict[str, Any]) -> float:
    """How long a process retries a study database that stopped answering before it gives up:
    twice the grace period (by then the others have failed its trial in flight anyway)."""
    return 2.0 * settings(config)["grace_period"]


def fail_stale(study: optuna.Study) -> None:
    """Optuna's ``fail_stale_trials``: trials whose worker stopped beating for the grace period
    become FAIL (run by every worker before each trial and by the coordinator as it mirrors)."""
    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import fail_stale_trials

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        fail_stale_trials(study)


# -- the run's shared state (study user attributes) ----------------------------------------------
def attrs(study: optuna.Study) -> JsonDict:
    """The study's user attributes, read fresh from the database."""
    return study._storage.get_study_user_attrs(study._study_id)


def publish(study: optuna.Study, run_record: dict[str, Any], budget: int | None) -> None:
    """What a worker on another host needs: the run (record and config), its budget; and 'running'."""
    study.set_user_attr(RUN, run_record)
    study.set_user_attr(BUDGET, budget)
    study.set_user_attr(STATE, RUNNING)


def set_state(study: optuna.Study, state: str) -> None:
    study.set_user_attr(STATE, state)


def worker_key(host: str, pid: int) -> str:
    return f"{WORKER}{host}:{pid}"


def beat(study: optuna.Study, host: str, pid: int, *, started_at: str, trials: int, state: str = RUNNING,
         reason: str | None = None) -> None:
    """Refresh this worker's entry (the coordinator sees it change, so it knows the worker lives)."""
    study.set_user_attr(worker_key(host, pid), {"host": host, "pid": pid, "started_at": started_at,
                                                "seen_at": _now(), "trials": trials, "state": state,
                                                "reason": reason})


def workers(values: JsonDict) -> list[JsonDict]:
    """The worker entries among a study's user attributes."""
    return [v for k, v in sorted(values.items()) if k.startswith(WORKER) and isinstance(v, dict)]
