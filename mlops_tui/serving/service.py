"""Starting, listing and stopping `mlops-tui serve` processes: the API the CLI and the TUI call.

A service is recorded in the store (``services``: pid, host, url, heartbeat) by the process that
runs uvicorn. ``--detach`` starts that process in its own session with its output in
``services/<id>.log`` (like a detached tuning run) and returns once the model is loaded. SIGTERM
(``serve stop``) makes uvicorn stop accepting connections, finish every request in flight, then
close the last monitoring window; the process marks its row 'stopped'. A process killed with -9
cannot say so: :func:`sweep` marks it 'died' when its pid is gone.

Light on purpose: uvicorn, Starlette and Polars are imported only by :func:`run`, so `serve list`
and the TUI pay nothing for them.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_tui.errors import UserError

if TYPE_CHECKING:
    from mlops_tui.serving.online import Settings
    from mlops_tui.store import Service
    from mlops_tui.workspace import Workspace

HOST = socket.gethostname()
LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
DRAIN_S = 30  # seconds (an int, as uvicorn takes it): uvicorn waits this long for requests in flight after SIGTERM
READY_S = 120.0  # how long --detach waits for the model to load


def log_path(ws: Workspace, service_id: str) -> Path:
    return ws.root / "services" / f"{service_id}.log"


def _check_port(host: str, port: int) -> None:
    """One clear line instead of uvicorn's traceback when the address is taken. Bound as uvicorn
    binds (SO_REUSEADDR): connections a stopped service closed linger in TIME_WAIT on its port, which
    only a listening socket makes busy, so `serve stop X && serve X` starts again at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UserError(f"port {port} on {host} is already in use; pick another with --port") from exc
            raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def _settings(ws: Workspace, deployment: str, service_id: str, **options: Any) -> Settings:
    from mlops_tui.registry import models as registry
    from mlops_tui.serving.online import Settings
    from mlops_tui.serving.predictor import ENGINES

    registry.get_deployment(ws, deployment)  # UserError naming it when unknown
    engine = options.get("engine")
    if engine is not None and engine not in ENGINES:
        raise UserError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    return Settings(workspace=str(ws.root), deployment=deployment, service_id=service_id, **options)


def run(ws: Workspace, deployment: str, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
        service_id: str | None = None, log: str | None = None, **options: Any) -> Service:
    """Serve ``deployment`` in this process until SIGTERM/SIGINT; returns the ended service record.

    ``options`` are :class:`Settings` fields (max_body, lenient, window_minutes, window_rows, ...).
    """
    import uvicorn

    from mlops_tui.serving.http import SETTINGS_ENV

    service_id = service_id or uuid.uuid4().hex[:12]
    settings = _settings(ws, deployment, service_id, **options)
    _check_port(host, port)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    ws.store.services.start(service_id=service_id, deployment=deployment, host=HOST, pid=os.getpid(), url=url,
                            workers=workers, log_path=log, audit=("serve", f"deployment:{deployment}", "ok", {
                                "service": service_id, "url": url, "pid": os.getpid(), "workers": workers}))
    os.environ[SETTINGS_ENV] = json.dumps(settings.to_json())
    # uvicorn drains on SIGTERM/SIGINT, then raises the signal again with the handlers it found:
    # handlers that only return let this process record its end instead of dying there.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        uvicorn.run("mlops_tui.serving.http:app_from_env", factory=True, host=host, port=port, workers=workers,
                    timeout_graceful_shutdown=DRAIN_S, access_log=False, log_config=None)
    except BaseException as exc:
        ws.store.services.finish(service_id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    ws.store.services.finish(service_id, "stopped")
    ws.store.audit.record("serve stop", f"deployment:{deployment}", "ok", {"service": service_id, "pid": os.getpid()})
    return ws.store.services.get(service_id)


def detach(ws: Workspace, deployment: str, *, host: str, port: int, workers: int, argv: list[str],
           wait: float = READY_S) -> Service:
    """Start ``mlops-tui serve`` (``argv``: its options) in its own session; return once it serves.

    Checked here first, so a mistake gets its one line at once: the deployment and the port.
    """
    from mlops_tui.registry import models as registry

    registry.get_deployment(ws, deployment)
    _check_port(host, port)
    service_id = uuid.uuid4().hex[:12]
    path = log_path(ws, service_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "mlops_tui", "--workspace", str(ws.root), "serve", deployment, *argv,
           "--service-id", service_id, "--log", str(path)]
    with open(path, "ab") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(0.25)
        if proc.poll() is not None:
            raise UserError(f"the service exited at start (code {proc.returncode}): {_last_line(path)} "
                            f"(log: {path})")
        found = ws.store.services.list(active=True, deployment=deployment)
        svc = next((s for s in found if s.service_id == service_id), None)
        loaded = sum(1 for s in (svc.stats.values() if svc else []) if s.get("model"))
        if svc is not None and svc.status == "running" and loaded >= workers:
            return svc  # every worker has loaded the model (each heartbeats under its own pid)
    raise UserError(f"the service (pid {proc.pid}) did not load its model within {wait:.0f} s; "
                    f"see {path} or stop it with `mlops-tui serve stop {deployment}`")


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "(no log)"
    return lines[-1].strip() if lines else "(empty log)"


def sweep(ws: Workspace) -> list[str]:
    """Mark 'died' the active services of this host whose process is gone; returns their ids."""
    from mlops_tui.processes import alive

    died = []
    for svc in ws.store.services.list(active=True):
        if svc.host == HOST and not alive(svc.pid) and ws.store.services.finish(
                svc.service_id, "died", f"service process died (pid {svc.pid})"):
            died.append(svc.service_id)
    return died


def services(ws: Workspace, *, everything: bool = False) -> list[Service]:
    """Running services (all recorded ones with ``everything``), newest first."""
    sweep(ws)
    return ws.store.services.list(active=not everything)


def stop(ws: Workspace, name: str, *, wait: float = DRAIN_S + 10) -> list[Service]:
    """SIGTERM the running services of deployment ``name`` (or the service whose id starts with
    it) on this host and wait for them to drain and exit; returns their final records."""
    from mlops_tui.processes import alive

    active = services(ws)
    chosen = [s for s in active if s.deployment == name] or [s for s in active if s.service_id.startswith(name)]
    if not chosen:
        raise UserError(f"no running service of {name!r} (see `mlops-tui serve list`)")
    elsewhere = [s for s in chosen if s.host != HOST]
    if elsewhere:
        raise UserError(f"service {elsewhere[0].service_id} of {name!r} runs on {elsewhere[0].host}; "
                        f"stop it there")
    for s in chosen:
        with contextlib.suppress(ProcessLookupError):
            os.kill(s.pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and any(alive(s.pid) for s in chosen):
        time.sleep(0.1)
    still = [s for s in chosen if alive(s.pid)]
    if still:
        raise UserError(f"service pid {still[0].pid} is still draining after {wait:.0f} s; "
                        f"`kill -9 {still[0].pid}` ends it at once")
    sweep(ws)  # a process that could not write its end (store busy) is marked now
    return [ws.store.services.get(s.service_id) for s in chosen]
