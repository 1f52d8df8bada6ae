"""The HTTP face of a deployment: a small Starlette app that uvicorn runs (`mlops-tui serve`),
with ``POST /predict`` answered by a plain ASGI callable in front of it (:func:`predict_route`).

Why Starlette and not FastAPI: FastAPI's value is request validation and docs generated from
pydantic models, but a deployment's input schema is the model's signature, known only at run
time, and it must be checked by the very code `score` uses (``batch.check_schema`` and
``training.signature.encode``), which lists every problem at once. Pydantic would be a second,
different set of rules, and it is where FastAPI spends most of a 1,000-row request (ENGINES.md:
37 ms p50); bench/serve_latency.py measures what this app adds over a bare ASGI endpoint.

Endpoints: ``POST /predict`` (records ``[{...}, ...]``, columns ``{"col": [...]}`` or one record
``{...}``), ``GET /health`` (the process answers), ``GET /ready`` (a model is loaded), ``GET
/metadata`` (deployment, version, signature, swaps), ``GET /metrics`` (Prometheus text). Bad input
never takes the service down: 400 an empty body, malformed JSON or a key twice in one object, 413 a
body over ``max_body`` bytes, 415 a body declared as something else than JSON, 422 every problem of
the rows in one body, 503 no model loaded, 500 (logged) for anything unexpected.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import uuid
from bisect import bisect_left
from collections import Counter
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from itertools import accumulate, count
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mlops_tui.serving.body import Refused
from mlops_tui.serving.online import Online, Settings
from mlops_tui.serving.request import INLINE_BYTES, score_request

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from prometheus_client import Metric

    from mlops_tui.serving.predictor import PredictorFactory

log = logging.getLogger("mlops_tui.serving")
SETTINGS_ENV = "MLOPS_SERVE_SETTINGS"  # how `serve` hands its settings to uvicorn's worker processes
DRAIN_SECONDS = 5.0  # how long the rest of a refused body is read and thrown away (drain_body)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The service's Prometheus figures. The request path only bumps plain numbers (a dict entry,
    a histogram slot; no lock: every request is counted on the event loop's thread), which become
    metric families in a registry of the app's own when /metrics is scraped. Answered /predict
    requests and their rows are the heartbeat's counters (``Online.counters``)."""

    def __init__(self, online: Online) -> None:
        from prometheus_client import CollectorRegistry

        self.online = online
        self.requests: Counter[tuple[str, str]] = Counter()  # (endpoint, status), but answered /predict
        self.errors: Counter[str] = Counter()  # refused or failed /predict requests by reason
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # answered /predict by latency; the last is +Inf
        self.seconds = 0.0
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def observe(self, seconds: float) -> None:
        self.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.seconds += seconds

    def collect(self) -> list[Metric]:
        """The figures as Prometheus metric families (``prometheus_client.registry.Collector``)."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
        from prometheus_client.utils import floatToGoString

        online = self.online
        requests = CounterMetricFamily("mlops_requests", "HTTP requests answered", labels=["endpoint", "status"])
        for (endpoint, status), n in {**self.requests, ("/predict", "200"): online.counters.requests}.items():
            requests.add_metric([endpoint, status], n)
        errors = CounterMetricFamily("mlops_errors", "Requests refused or failed, by reason", labels=["reason"])
        for reason, n in self.errors.items():
            errors.add_metric([reason], n)
        counts = list(accumulate(self.buckets))
        latency = HistogramMetricFamily("mlops_request_seconds", "Time to answer /predict", sum_value=self.seconds,
                                        buckets=[*zip(map(floatToGoString, LATENCY_BUCKETS), counts, strict=False),
                                                 ("+Inf", counts[-1])])
        version = GaugeMetricFamily("mlops_model_version", "Model version served", labels=["model"])
        if online.served is not None:
            version.add_metric([online.served.model.name], online.served.model.version)
        return [requests, CounterMetricFamily("mlops_rows", "Rows scored", value=online.counters.rows), errors,
                latency, version, GaugeMetricFamily("mlops_model_swaps", "Hot swaps since the service started",
                                                    value=online.swaps)]

    def text(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


# -- the predict route: plain ASGI ----------------------------------------------------------------
class Disconnected(Exception):
    """The client went away before its body arrived: there is no one to answer."""


def check_content_type(value: bytes | None) -> None:
    """A body declared as anything but JSON gets 415; no Content-Type at all is read as JSON.

    Why refuse rather than try to parse it: a web page can make a visitor's browser POST a form or
    text/plain body to any address, 127.0.0.1 included, with no CORS preflight, but not a JSON one;
    a service that scored such bodies would let any page feed its monitoring windows (and so the
    drift that can start a retrain). curl's -d sends a form type: --json or -H sets JSON."""
    if value is None:
        return
    media = value.split(b";", 1)[0].strip().lower()
    if media != b"application/json" and not media.endswith(b"+json"):
        raise Refused(415, f"the body must be JSON sent as Content-Type: application/json, not "
                           f"{media.decode('latin-1') or 'an empty type'} (curl: --json, or "
                           "-H 'Content-Type: application/json')")


async def read_body(receive: Receive, declared: bytes | None, limit: int, *, drain: bool = True) -> bytes:
    """The body, refused with 413 as soon as it is known to pass ``limit`` bytes (before parsing).

    ``drain``: before that answer, the rest of the body is read and thrown away (:func:`drain_body`); a
    client that waits for ``100 Continue`` (curl's big bodies) has sent none of it and is answered at once."""
    advice = "send fewer rows per request (the limit is serve --max-body-mb)"
    if declared is not None and declared.isdigit() and int(declared) > limit:
        if drain:
            await drain_body(receive)
        raise Refused(413, f"request body is {int(declared):,} bytes, over the limit of {limit:,} bytes: {advice}")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            if drain and message.get("more_body", False):
                await drain_body(receive)
            raise Refused(413, f"request body is over the limit of {limit:,} bytes: {advice}")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def drain_body(receive: Receive) -> None:
    """Read the rest of a refused body and throw it away, for at most :data:`DRAIN_SECONDS` (nginx's
    lingering close). A connection closed with unread bytes is reset, and a client that sends its
    whole body before reading the answer loses the answer with it: Python's urllib (Connection:
    close) got 'Connection reset by peer' for a 23 MB body instead of the 413 saying the limit."""
    import asyncio

    deadline = time.monotonic() + DRAIN_SECONDS
    more = True
    with contextlib.suppress(TimeoutError):
        while more:
            message = await asyncio.wait_for(receive(), deadline - time.monotonic())
            more = message["type"] == "http.request" and message.get("more_body", False)


# Starlette's JSONResponse settings, one encoder made once (json.dumps builds one per call).
_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


async def send_json(send: Send, status: int, body: bytes, *headers: tuple[bytes, bytes]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)), *headers]})
    await send({"type": "http.response.body", "body": body})


def predict_route(online: Online, metrics: Metrics) -> ASGIApp:
    """``POST /predict`` as a bare ASGI callable: read the body, score it, send one JSON answer.

    Why not a Starlette route: a 1-row request costs ~0.1 ms to score, and Starlette's request,
    response, routing and middleware objects cost about as much again (bench/serve_latency.py
    compares this service with a bare ASGI endpoint). The other endpoints stay Starlette routes.
    """
    settings = online.settings
    # Generated request ids: 32 hex digits like a uuid4, unique as a random per-process prefix and
    # a counter (a uuid4 per request costs a system call for its randomness).
    prefix, numbers = uuid.uuid4().hex[:16], count()

    async def predict(scope: Scope, receive: Receive, send: Send) -> None:
        t0 = time.perf_counter()
        request_id = declared = content_type = None
        drain = True  # a client waiting for 100 Continue has sent no body: nothing to drain
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value
            elif name == b"content-length":
                declared = value
            elif name == b"content-type":
                content_type = value
            elif name == b"expect":
                drain = value.lower() != b"100-continue"
        rid = request_id.decode("latin-1") if request_id else f"{prefix}{next(numbers):016x}"
        reading = False
        echo = (b"x-request-id", request_id or rid.encode())
        served = online.served
        try:
            if scope["method"] != "POST":
                raise Refused(405, f"use POST for /predict, not {scope['method']}", reason="method")
            check_content_type(content_type)
            if served is None:
                raise Refused(503, f"no model loaded yet for deployment {settings.deployment!r}"
                              + (f": {online.error}" if online.error else ""), reason="not_ready")
            reading = True  # read_body drains the rest of a body it refuses itself
            body = await read_body(receive, declared, settings.max_body, drain=drain)
            if len(body) <= INLINE_BYTES:
                answer = score_request(online, served, body, rid)
            else:
                answer = await run_in_threadpool(score_request, online, served, body, rid)
            data = _encode(answer).encode()
        except Disconnected:
            return
        except Refused as exc:
            if drain and not reading:  # refused before its body was read (405, 415, 503)
                await drain_body(receive)
            status, reply, reason = exc.status, exc.body, exc.reason
        except Exception as exc:  # noqa: BLE001 - answered and logged; the service keeps serving
            log.exception("request %s failed", rid)
            status, reply, reason = 500, {"error": f"internal error: {type(exc).__name__}: {exc}"}, "internal"
        else:
            online.counters.requests += 1
            online.counters.rows += len(answer["predictions"])
            metrics.observe(time.perf_counter() - t0)
            await send_json(send, 200, data, echo)
            return
        online.counters.errors += 1
        metrics.errors[reason] += 1
        metrics.requests["/predict", str(status)] += 1
        await send_json(send, status, _encode(reply).encode(), echo, *([(b"allow", b"POST")] if status == 405 else []))

    return predict


# -- the app ----------------------------------------------------------------------------------------
def create_app(settings: Settings, predictor_factory: PredictorFactory | None = None) -> ASGIApp:
    """The app of one worker process; ``predictor_factory`` overrides the deployment's engine."""
    from mlops_tui.workspace import Workspace

    ws = Workspace.open(settings.workspace)
    online = Online(ws, settings, predictor_factory)
    metrics = Metrics(online)

    def counted(endpoint: str, response: Response) -> Response:
        metrics.requests[endpoint, str(response.status_code)] += 1
        return response

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

        return counted("/metrics", Response(metrics.text(), media_type=CONTENT_TYPE_LATEST))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        online.start()
        log.info("service %s of deployment %s started (pid %d) at %s", settings.service_id, settings.deployment,
                 os.getpid(), datetime.now(UTC).isoformat(timespec="seconds"))
        yield
        # uvicorn has stopped listening and let every in-flight request finish (SIGTERM drains).
        await run_in_threadpool(online.stop)

    site = Starlette(routes=[
        Route("/health", health), Route("/ready", ready), Route("/metadata", metadata), Route("/metrics", prometheus),
    ], lifespan=lifespan)
    predict = predict_route(online, metrics)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/predict":
            await predict(scope, receive, send)
        else:
            await site(scope, receive, send)  # the other endpoints, and the lifespan (start, drain)

    return app


def app_from_env() -> ASGIApp:
    """uvicorn's factory in each worker process: the settings come from the environment."""
    return create_app(Settings.from_json(json.loads(os.environ[SETTINGS_ENV])))
