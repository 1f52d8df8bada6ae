"""HTTP serving latency and throughput: `mlops-tui serve` beside a bare ASGI endpoint, same run.

    .venv/bin/python bench/serve_latency.py [--trees 200] [--seconds 4] [--max-requests 20000]

1. Trains a binary LightGBM model (20 float features, ``--trees`` trees) in a temp workspace and
   deploys it.
2. Starts two uvicorn servers on 127.0.0.1, one at a time, each in its own process:
   - the service: ``mlops-tui serve DEP`` (schema check, encode, predict, response with class
     probabilities, Prometheus figures, monitoring hand-over);
   - the baseline: a bare ASGI callable that parses the JSON records into a matrix, calls
     ``Booster.predict`` on it (one thread, as the service does below 10k rows) and answers the
     predictions: the least any service must do.
3. Against each, with one small keep-alive client (raw HTTP/1.1 over asyncio, so the client costs
   little of the 2 cores both share): p50/p99 latency of 1-row and 1,000-row requests one at a
   time, then requests/s of 1-row requests at concurrency 1, 8 and 32. Every loop is bounded in
   count and time. Prints both, the ratios, and the targets of issue 15 (service >= 0.8x the
   baseline's throughput; 1-row p50 at most 2 ms above it). Also each server's CPU time per
   request (/proc), which the machine's other load does not change the way it changes req/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_FEATURES = 20
FEATURES = [f"x{i}" for i in range(N_FEATURES)]


# -- the baseline server (run in its own process: `serve_latency.py --baseline MODEL PORT`) -------------
def baseline_app(model_path: str):
    import lightgbm as lgb

    booster = lgb.Booster(model_file=model_path)

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        rows = json.loads(body)
        X = np.array([[r[f] for f in FEATURES] for r in rows], dtype=np.float64)
        out = json.dumps({"predictions": booster.predict(X, num_threads=1).tolist()}).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})

    return app


def run_baseline(model_path: str, port: int) -> None:
    import uvicorn

    uvicorn.run(baseline_app(model_path), host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- setup -------------------------------------------------------------------------------------------------
def train_and_deploy(ws, trees: int) -> Path:
    import lightgbm as lgb

    from mlops_tui.registry import models as registry
    from mlops_tui.training.modelfile import save_model
    from mlops_tui.training.signature import Feature, Signature

    rng = np.random.default_rng(3)
    X = rng.standard_normal((20_000, N_FEATURES))
    y = (X[:, :5].sum(axis=1) + rng.standard_normal(len(X)) > 0).astype(int)
    booster = lgb.train({"objective": "binary", "verbose": -1, "seed": 0, "num_leaves": 31},
                        lgb.Dataset(X, label=y, feature_name=FEATURES), num_boost_round=trees)
    sig = Signature("binary", "y", tuple(Feature(c, "numeric", c, "Float64") for c in FEATURES), ("0", "1"))
    path, digest = save_model(booster, {"signature": sig.to_json(), "task": "binary"}, ws.artifacts / "models")
    ws.store.models.register(name="bench", path=ws.relpath(path), sha256=digest, task="binary",
                             signature=sig.to_json(), metrics={"primary_metric": "roc_auc", "roc_auc": 0.9})
    registry.deploy(ws, "bench:1", "bench")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], port: int, log: Path, probe: bytes) -> subprocess.Popen:
    """Start a server and wait until it answers ``probe`` (a request) with 200."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(probe)
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


# -- the client ---------------------------------------------------------------------------------------------
def request_bytes(rows: list[dict]) -> bytes:
    body = json.dumps(rows).encode()
    return (b"POST /predict HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body


async def _exchange(reader, writer, raw: bytes) -> int:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    await reader.readexactly(length)
    return status


async def _worker(port: int, raw: bytes, until: float, budget: list[int], latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while budget[0] > 0 and time.perf_counter() < until:
            budget[0] -= 1
            t = time.perf_counter()
            status = await _exchange(reader, writer, raw)
            if status != 200:
                raise SystemExit(f"request failed with {status}")
            latencies.append(time.perf_counter() - t)
    finally:
        writer.close()


def load(port: int, raw: bytes, *, concurrency: int, seconds: float, max_requests: int) -> tuple[float, list[float]]:
    """(requests/s, latencies) of ``concurrency`` keep-alive connections, bounded by time and count."""
    latencies: list[float] = []

    async def go() -> float:
        budget = [max_requests]
        t0 = time.perf_counter()
        await asyncio.gather(*(_worker(port, raw, t0 + seconds, budget, latencies) for _ in range(concurrency)))
        return time.perf_counter() - t0

    elapsed = asyncio.run(go())
    return len(latencies) / elapsed, latencies


MEASURES = ("1-row p50 ms", "1-row p99 ms", "1000-row p50 ms", "1000-row p99 ms", "req/s at 1", "req/s at 8",
            "req/s at 32", "CPU ms/req 1-row", "CPU ms/req 1000-row", "CPU ms/req at 32")
ROUNDS = 4
TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) a process has used: what a request costs the
    server whatever else the machine is doing, unlike requests/s."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


def measure(servers: dict[str, tuple[int, int]], rows: list[dict], seconds: float,
            max_requests: int) -> dict[str, dict[str, float]]:
    """``servers``: name -> (port, pid). Each measurement in ``ROUNDS`` slices alternating between
    the servers, so a change in the machine's load (it is shared) hits both alike; latencies pooled,
    rate = requests / time, CPU per request = the server process's CPU time / requests."""
    one, thousand = request_bytes(rows[:1]), request_bytes(rows[:1000])
    out: dict[str, dict[str, float]] = {name: {} for name in servers}
    for port, _ in servers.values():
        load(port, one, concurrency=1, seconds=1.0, max_requests=200)  # warm up

    def sliced(raw: bytes, concurrency: int, count: int) -> dict[str, tuple[float, float, list[float]]]:
        pooled: dict[str, tuple[float, float, list[float]]] = {name: (0.0, 0.0, []) for name in servers}
        for _ in range(ROUNDS):
            for name, (port, pid) in servers.items():
                t0, cpu0 = time.perf_counter(), cpu_seconds(pid)
                _, lat = load(port, raw, concurrency=concurrency, seconds=seconds / ROUNDS, max_requests=count // ROUNDS)
                spent, cpu, seen = pooled[name]
                pooled[name] = (spent + time.perf_counter() - t0, cpu + cpu_seconds(pid) - cpu0, seen + lat)
        return pooled

    for label, raw, count in (("1-row", one, max_requests), ("1000-row", thousand, max(20, max_requests // 100))):
        for name, (_, cpu, lat) in sliced(raw, 1, count).items():
            out[name][f"{label} p50 ms"], out[name][f"{label} p99 ms"] = (float(np.percentile(lat, q)) * 1e3
                                                                          for q in (50, 99))
            out[name][f"CPU ms/req {label}"] = cpu / len(lat) * 1e3
    for c in (1, 8, 32):
        for name, (spent, cpu, lat) in sliced(one, c, max_requests).items():
            out[name][f"req/s at {c}"] = len(lat) / spent
            if c == 32:
                out[name]["CPU ms/req at 32"] = cpu / len(lat) * 1e3
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trees", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=4.0, help="per measurement")
    parser.add_argument("--max-requests", type=int, default=20_000, help="per measurement")
    parser.add_argument("--baseline", nargs=2, metavar=("MODEL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        run_baseline(args.baseline[0], int(args.baseline[1]))
        return

    from mlops_tui.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    ws = Workspace.open(tmp / "ws", create=True)
    model_path = train_and_deploy(ws, args.trees)
    rng = np.random.default_rng(11)
    rows = [dict(zip(FEATURES, r, strict=True)) for r in rng.standard_normal((1000, N_FEATURES)).tolist()]
    servers = {
        "baseline": [sys.executable, __file__, "--baseline", str(ws.abspath(str(model_path))), "{port}"],
        "service": [sys.executable, "-m", "mlops_tui", "--workspace", str(ws.root), "serve", "bench",
                    "--port", "{port}", "--window-rows", "100000"],
    }
    print(f"cores: {os.cpu_count()}, model: {args.trees} trees x 31 leaves, {N_FEATURES} features; "
          f"{args.seconds:.0f} s or {args.max_requests} requests per measurement (machine shared: compare ratios)")
    procs, running = [], {}
    try:
        for name, cmd in servers.items():
            port = free_port()
            procs.append(start([c.replace("{port}", str(port)) for c in cmd], port, tmp / f"{name}.log",
                               request_bytes(rows[:1])))
            running[name] = (port, procs[-1].pid)
        results = measure(running, rows, args.seconds, args.max_requests)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
    base, svc = results["baseline"], results["service"]
    print(f"{'':18} {'baseline':>10} {'service':>10} {'ratio':>7}")
    for key in MEASURES:
        print(f"{key:18} {base[key]:10.2f} {svc[key]:10.2f} {svc[key] / base[key]:7.2f}")
    worst = min(svc[f"req/s at {c}"] / base[f"req/s at {c}"] for c in (1, 8, 32))
    extra = svc["1-row p50 ms"] - base["1-row p50 ms"]
    print(f"throughput: service / baseline >= {worst:.2f}x (target >= 0.8x): {'ok' if worst >= 0.8 else 'MISSED'}")
    print(f"1-row p50: service +{extra:.2f} ms over the baseline (target <= 2 ms): {'ok' if extra <= 2 else 'MISSED'}")
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
