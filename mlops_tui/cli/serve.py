"""`serve DEP`, `serve list`, `serve stop DEP`: a deployment over HTTP (see the README's Serving
section). Thin: parse, call ``mlops_tui.serving.service``, emit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlops_tui.cli._common import JsonFlag, emit, err, fmt, out, table, workspace
from mlops_tui.errors import UserError

if TYPE_CHECKING:
    from mlops_tui.store import Service


def _row(s: Service) -> dict[str, Any]:
    return {"service_id": s.service_id, "deployment": s.deployment, "status": s.status, "url": s.url,
            "pid": s.pid, "host": s.host, "workers": s.workers, "model": s.model_name, "version": s.model_version,
            "requests": s.requests, "rate": s.rate, "started_at": s.started_at, "heartbeat_at": s.heartbeat_at,
            "ended_at": s.ended_at, "log": s.log_path, "error": s.error}


def serve(
    target: Annotated[str, typer.Argument(help="The deployment to serve; or `list`; or `stop`.", metavar="DEP|list|stop")],
    name: Annotated[str | None, typer.Argument(metavar="DEP", help="With `stop`: the deployment (or service id) to stop.")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (other machines reach only a non-loopback one).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="uvicorn worker processes.")] = 1,
    detach: Annotated[bool, typer.Option("--detach", help="Run in the background (own session, log file); returns once the model is loaded.")] = False,
    max_body_mb: Annotated[float, typer.Option("--max-body-mb", min=0.001, help="Largest request body; larger gets 413.")] = 10.0,
    lenient: Annotated[bool, typer.Option("--lenient", help="Accept what `score` accepts with a warning (unseen categories, extra columns, numeric strings, true/false, NaN/Infinity) instead of 422.")] = False,
    window_minutes: Annotated[float, typer.Option("--window-minutes", min=0.01, help="Close a monitoring window after this long...")] = 5.0,
    window_rows: Annotated[int, typer.Option("--window-rows", min=1, help="...or after this many rows, whichever comes first.")] = 10_000,
    poll: Annotated[float, typer.Option("--poll", min=0.1, help="Seconds between checks of the deployment for a new version (hot swap).")] = 2.0,
    every: Annotated[bool, typer.Option("--all", help="With `list`: ended services too.")] = False,
    service_id: Annotated[str | None, typer.Option("--service-id", hidden=True)] = None,
    log: Annotated[str | None, typer.Option("--log", hidden=True)] = None,
    as_json: JsonFlag = False,
) -> None:
    """Serve a deployment over HTTP; list or stop services.

    POST /predict, GET /health /ready /metadata /metrics.

    Requests are checked like `score` checks files (422 lists every problem), traffic is monitored in
    windows that `monitor` shows beside batch jobs, and repointing the deployment (deploy, model
    promote/rollback of the alias it follows) swaps the model without a restart.
    `serve list` shows running services; `serve stop DEP` drains and stops them.

    Example: mlops-tui serve credit --port 8000 --detach && curl -s localhost:8000/predict --json '[{"balance": 1200, "income": 40000, "student": "No"}]'
    """
    from mlops_tui.serving import service

    ws = workspace()
    if target == "list":
        rows = service.services(ws, everything=every)
        emit([_row(s) for s in rows], as_json, lambda: out.print(table(None, [
            "service", "deployment", "status", "url", "model", "requests", "req/s", "pid", "heartbeat"],
            [(s.service_id, s.deployment, s.status, s.url, f"{s.model_name}:{s.model_version}" if s.model_name else None,
              s.requests, round(s.rate, 2), s.pid, s.heartbeat_at) for s in rows]) if rows
            else "no running services (serve DEP starts one)"))
        return
    if target == "stop":
        if not name:
            raise UserError("serve stop needs the deployment (or service id) to stop")
        stopped = service.stop(ws, name)
        emit({"deployment": name, "services": [_row(s) for s in stopped]}, as_json, lambda: out.print(
            "\n".join(f"stopped {s.service_id} ({s.url}, pid {s.pid}): {s.status}" for s in stopped)))
        return
    if name is not None:
        raise UserError(f"unexpected argument {name!r}: serve takes one deployment")
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"warning: listening on {host}: other machines can reach this service (no authentication)",
                  markup=False, soft_wrap=True)
    options = {"max_body": int(max_body_mb * (1 << 20)), "lenient": lenient, "window_minutes": window_minutes,
               "window_rows": window_rows, "poll_s": poll}
    if detach:
        argv = ["--host", host, "--port", str(port), "--workers", str(workers), "--max-body-mb", str(max_body_mb),
                "--window-minutes", str(window_minutes), "--window-rows", str(window_rows), "--poll", str(poll),
                *(["--lenient"] if lenient else [])]
        svc = service.detach(ws, target, host=host, port=port, workers=workers, argv=argv)
        emit(_row(svc), as_json, lambda: out.print(
            f"serving {svc.deployment} ({svc.model_name}:{svc.model_version}) at {svc.url}, pid {svc.pid}, "
            f"log {svc.log_path}; stop with `mlops-tui serve stop {svc.deployment}`"))
        return
    err.print(f"serving {target} at http://{host}:{port} (Ctrl-C or SIGTERM drains and stops)", markup=False)
    svc = service.run(ws, target, host=host, port=port, workers=workers, service_id=service_id, log=log, **options)
    emit(_row(svc), as_json, lambda: out.print(
        f"stopped {svc.service_id}: {fmt(svc.requests)} request(s) answered"))


def register(app: typer.Typer) -> None:
    app.command()(serve)
