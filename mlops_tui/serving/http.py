"""The HTTP face of a deployment: a small Starlette app that uvicorn runs (`mlops-tui serve`).

Why Starlette and not FastAPI: FastAPI's value is request validation and docs generated from
pydantic models, but a deployment's input schema is the model's signature, known only at run
time, and it must be checked by the very code `score` uses (``serving.io.check_frame`` and
``training.signature.encode``), which lists every problem at once. Pydantic would be a second,
different set of rules, and it is where FastAPI spends most of a 1,000-row request (ENGINES.md:
37 ms p50); bench/serve_latency.py measures what this app adds over a bare ASGI endpoint.

Endpoints: ``POST /predict`` (records ``[{...}, ...]``, columns ``{"col": [...]}`` or one record
``{...}``), ``GET /health`` (the process answers), ``GET /ready`` (a model is loaded), ``GET
/metadata`` (deployment, version, signature, swaps), ``GET /metrics`` (Prometheus text). Bad input
never takes the service down: 400 malformed JSON, 413 a body over ``max_body`` bytes, 422 every
problem of the rows in one body, 503 no model loaded, 500 (logged) for anything unexpected.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mlops_tui.serving.online import Online, Settings
from mlops_tui.serving.request import INLINE_BYTES, Refused, score_request

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from mlops_tui.serving.predictor import PredictorFactory

log = logging.getLogger("mlops_tui.serving")
SETTINGS_ENV = "MLOPS_SERVE_SETTINGS"  # how `serve` hands its settings to uvicorn's worker processes
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The service's Prometheus figures, in a registry of its own (several apps can share a process)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("mlops_requests", "HTTP requests answered", ["endpoint", "status"],
                                registry=self.registry)
        self.rows = Counter("mlops_rows", "Rows scored", registry=self.registry)
        self.errors = Counter("mlops_errors", "Requests refused or failed, by reason", ["reason"],
                              registry=self.registry)
        self.latency = Histogram("mlops_request_seconds", "Time to answer /predict", buckets=LATENCY_BUCKETS,
                                 registry=self.registry)
        self.version = Gauge("mlops_model_version", "Model version served", ["model"], registry=self.registry)
        self.swaps = Gauge("mlops_model_swaps", "Hot swaps since the service started", registry=self.registry)

    def text(self, online: Online) -> bytes:
        from prometheus_client import generate_latest

        self.version.clear()
        if online.served is not None:
            self.version.labels(online.served.model.name).set(online.served.model.version)
        self.swaps.set(online.swaps)
        return generate_latest(self.registry)


# -- reading a request ------------------------------------------------------------------------------
async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to pass ``limit`` bytes (before parsing)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"request body is {int(declared):,} bytes, over the limit of {limit:,} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"request body is over the limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# -- the app ----------------------------------------------------------------------------------------
def create_app(settings: Settings, predictor_factory: PredictorFactory | None = None) -> Starlette:
    """The app of one worker process; ``predictor_factory`` overrides the deployment's engine."""
    from mlops_tui.workspace import Workspace

    ws = Workspace.open(settings.workspace)
    online = Online(ws, settings, predictor_factory)
    metrics = Metrics()

    def counted(endpoint: str, response: Response) -> Response:
        metrics.requests.labels(endpoint, str(response.status_code)).inc()
        return response

    async def predict(request: Request) -> Response:
        t0 = time.perf_counter()
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        headers = {"X-Request-ID": request_id}
        served = online.served
        try:
            if served is None:
                raise Refused(503, f"no model loaded yet for deployment {settings.deployment!r}"
                              + (f": {online.error}" if online.error else ""), reason="not_ready")
            body = await read_body(request, settings.max_body)
            if len(body) <= INLINE_BYTES:
                answer = score_request(online, served, body, request_id)
            else:
                answer = await run_in_threadpool(score_request, online, served, body, request_id)
        except Refused as exc:
            online.counters.errors += 1
            metrics.errors.labels(exc.reason).inc()
            return counted("/predict", JSONResponse(exc.body, exc.status, headers=headers))
        except Exception as exc:  # noqa: BLE001 - answered and logged; the service keeps serving
            log.exception("request %s failed", request_id)
            online.counters.errors += 1
            metrics.errors.labels("internal").inc()
            return counted("/predict", JSONResponse({"error": f"internal error: {type(exc).__name__}: {exc}"},
                                                    500, headers=headers))
        rows = len(answer["predictions"])
        online.counters.requests += 1
        online.counters.rows += rows
        metrics.rows.inc(rows)
        metrics.latency.observe(time.perf_counter() - t0)
        return counted("/predict", JSONResponse(answer, headers=headers))

    async def health(request: Request) -> Response:
        return counted("/health", JSONResponse({"status": "ok", "pid": os.getpid()}))

    async def ready(request: Request) -> Response:
        served = online.served
        if served is None:
            return counted("/ready", JSONResponse({"ready": False, "error": online.error or "loading the model"}, 503))
        return counted("/ready", JSONResponse({"ready": True, "model": served.ref}))

    async def metadata(request: Request) -> Response:
        served = online.served
        body: dict[str, Any] = {"deployment": settings.deployment, "service_id": settings.service_id,
                                "engine": served.engine if served else None, "pid": os.getpid(), "swaps": online.swaps,
                                "lenient": settings.lenient, "max_body": settings.max_body,
                                "model": None, "version": None, "signature": None, "error": online.error}
        if served is not None:
            body.update(model=served.model.name, version=served.model.version, ref=served.ref,
                        since=served.since.isoformat(timespec="seconds"), signature=served.sig.to_json())
        return counted("/metadata", JSONResponse(body))

    async def prometheus(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return counted("/metrics", Response(metrics.text(online), media_type=CONTENT_TYPE_LATEST))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        online.start()
        log.info("service %s of deployment %s started (pid %d) at %s", settings.service_id, settings.deployment,
                 os.getpid(), datetime.now(UTC).isoformat(timespec="seconds"))
        yield
        # uvicorn has stopped listening and let every in-flight request finish (SIGTERM drains).
        await run_in_threadpool(online.stop)

    app = Starlette(routes=[
        Route("/predict", predict, methods=["POST"]),
        Route("/health", health), Route("/ready", ready), Route("/metadata", metadata), Route("/metrics", prometheus),
    ], lifespan=lifespan)
    app.state.online = online
    return app


def app_from_env() -> Starlette:
    """uvicorn's factory in each worker process: the settings come from the environment."""
    return create_app(Settings.from_json(json.loads(os.environ[SETTINGS_ENV])))
