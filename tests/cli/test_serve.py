"""`mlops-tui serve`: a real uvicorn process on 127.0.0.1 answering for a deployment.

Each endpoint, each kind of bad input (exact status and message, and the service still serves),
request ids, online monitoring windows in `monitor --json` and `feedback`, a hot swap under a
running request loop, a drained shutdown, and the detached lifecycle (`serve list`, `serve stop`).
"""

from __future__ import annotations

import json
import socket
import threading
import time

import polars as pl
import pytest

from tests.conftest import run_cli, run_cli_subprocess
from tests.corpus_helpers import corpus_sets
from tests.scoring_helpers import default_df
from tests.serve_helpers import credit_deployment, free_port, serving
from tests.tuning_helpers import space_file

pytestmark = pytest.mark.slow

MAX_BODY = int(0.1 * (1 << 20))  # --max-body-mb 0.1
GOOD = {"customer_id": 7, "student": "No", "balance": 1200.0, "income": 40000.0}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One service shared by the read-only tests of this module (windows close every 5 rows)."""
    from mlops_tui.workspace import Workspace

    ws = Workspace.open(tmp_path_factory.mktemp("serve") / "ws", create=True)
    credit_deployment(ws)
    with serving(ws.root, "--max-body-mb", "0.1", "--window-rows", "5", "--poll", "0.5") as srv:
        yield srv


def test_predict_answers_records_with_predictions_probabilities_and_version(server):
    rows = default_df().head(3).drop("default").to_dicts()
    r = server.predict(rows, headers={"X-Request-ID": "req-1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["deployment"], body["model"], body["version"], body["request_id"]) == ("credit", "credit", 1, "req-1")
    assert r.headers["x-request-id"] == "req-1"
    assert len(body["predictions"]) == 3 and set(body["predictions"]) <= {"No", "Yes"}
    for label, proba in zip(body["predictions"], body["probabilities"], strict=True):
        assert set(proba) == {"No", "Yes"} and abs(sum(proba.values()) - 1) < 1e-9
        assert label == max(proba, key=proba.get)
    assert body["ids"] == {"customer_id": [1, 2, 3]}


def test_predict_takes_columns_or_one_record_and_answers_the_same(server):
    rows = default_df().head(4).drop("default", "customer_id")
    by_records = server.predict(rows.to_dicts()).json()
    by_columns = server.predict(rows.to_dict(as_series=False)).json()
    one = server.predict(rows.to_dicts()[0]).json()
    assert by_columns["predictions"] == by_records["predictions"]
    assert by_columns["probabilities"] == by_records["probabilities"]
    assert one["probabilities"] == by_records["probabilities"][:1]
    assert "ids" not in one
    assert by_records["request_id"] != by_columns["request_id"]  # generated when not given


def test_predictions_equal_batch_scoring_of_the_same_rows(server, tmp_path, capsys):
    df = default_df().head(50)
    online = server.predict(df.drop("default").to_dicts()).json()
    src = tmp_path / "rows.csv"
    df.write_csv(src)
    result = run_cli(capsys, server.root, "score", "credit", str(src), "--output", str(tmp_path / "out.parquet"),
                     "--json")
    assert result.code == 0, result.stderr
    batch = pl.read_parquet(tmp_path / "out.parquet")
    assert online["predictions"] == batch["prediction"].to_list()
    assert [p["Yes"] for p in online["probabilities"]] == pytest.approx(batch["proba_Yes"].to_list(), abs=1e-12)


def test_predict_takes_only_post(server):
    r = server.client.get("/predict")
    assert (r.status_code, r.headers["allow"], r.json()) == (405, "POST", {"error": "use POST for /predict, not GET"})


def test_health_ready_and_metadata(server):
    assert server.client.get("/health").json()["status"] == "ok"
    assert server.client.get("/ready").json() == {"ready": True, "model": "credit:1"}
    meta = server.client.get("/metadata").json()
    assert (meta["deployment"], meta["model"], meta["version"], meta["swaps"]) == ("credit", "credit", 1, 0)
    assert [f["name"] for f in meta["signature"]["features"]] == ["student", "balance", "income"]


def test_metrics_are_prometheus_text_with_requests_rows_errors_and_latency(server):
    server.predict([GOOD, GOOD])
    server.client.post("/predict", content=b"{")
    text = server.client.get("/metrics").text
    families = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    assert {"mlops_requests_total", "mlops_rows_total", "mlops_errors_total", "mlops_request_seconds_bucket",
            "mlops_model_version"} <= families
    assert 'mlops_errors_total{reason="malformed"}' in text
    assert 'mlops_model_version{model="credit"} 1.0' in text


BAD_INPUT = {
    "malformed JSON": (b"[{", 400, "malformed JSON: Expecting property name enclosed in double quotes: line 1 column 3 (char 2)", None),
    "not UTF-8": (b"\xff\xfe\xfa", 400, None, None),
    "missing features": ([{"balance": 1.0}], 422, "input does not match credit:1's signature",
                         ["missing feature column(s): student, income"]),
    "text in a numeric column": ([{**GOOD, "balance": "lots"}], 422, "input does not match credit:1's signature",
                                 ["column 'balance' should be numeric but has text, e.g. 'lots' (record 0, customer_id 7)"]),
    "unseen category": ([{**GOOD, "student": "Maybe"}], 422, "input does not match credit:1's signature",
                        ["column 'student' has value(s) never seen in training, e.g. 'Maybe' (record 0, customer_id 7): "
                         "refused (serve --lenient scores such values as missing)"]),
    "extra column": ([{**GOOD, "shoe_size": 44}], 422, "input does not match credit:1's signature",
                     ["1 column(s) the model does not use are refused (serve --lenient ignores them): shoe_size"]),
    "numeric strings": ([{**GOOD, "income": "40000"}], 422, "input does not match credit:1's signature",
                        ["column 'income' arrived as text; refused (serve --lenient coerces numeric strings)"]),
    "every problem at once": ([{"student": "Maybe", "balance": "lots", "zip": 1}], 422,
                              "input does not match credit:1's signature",
                              ["missing feature column(s): income",
                               "column 'balance' should be numeric but has text, e.g. 'lots' (record 0)",
                               "column 'student' has value(s) never seen in training, e.g. 'Maybe' (record 0): refused "
                               "(serve --lenient scores such values as missing)",
                               "1 column(s) the model does not use are refused (serve --lenient ignores them): zip"]),
    "no rows": ([], 422, "no rows to score", ["the body holds no rows"]),
    "not records": ([1, {"a": 2}], 422, "the body must be a list of records, an object of columns or one record",
                    ["record 0 is not a JSON object"]),
    "ragged columns": ({"student": ["No"], "balance": [1.0, 2.0], "income": [1.0]}, 422,
                       "the body must be a list of records, an object of columns or one record",
                       ["columns have different lengths: student=1, balance=2, income=1"]),
    "a bare number": (3, 422, "the body must be a list of records, an object of columns or one record",
                      ["got a JSON int"]),
    "nested values": ([{**GOOD, "student": ["No"]}], 422, "input does not match credit:1's signature",
                      ["column 'student' should be text or numbers but is List(String)"]),
    "too large": (b"[" + b" " * MAX_BODY + b"]", 413,
                  f"request body is {MAX_BODY + 2:,} bytes, over the limit of {MAX_BODY:,} bytes: send fewer rows "
                  "per request (the limit is serve --max-body-mb)", None),
}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=str)
def test_bad_input_gets_a_4xx_naming_every_problem_and_the_service_keeps_serving(server, case):
    payload, status, error, problems = BAD_INPUT[case]
    if isinstance(payload, bytes):
        r = server.client.post("/predict", content=payload, headers={"content-type": "application/json"})
    else:
        r = server.predict(payload)
    assert r.status_code == status, r.text
    body = r.json()
    if error is None:
        assert body["error"].startswith("malformed JSON: ")
    else:
        assert body["error"] == error
    assert body.get("problems") == problems
    assert server.predict([GOOD]).status_code == 200
    assert server.proc.poll() is None


def test_a_body_streamed_without_a_length_is_cut_off_at_the_limit(server):
    def chunks():
        for _ in range(20):
            yield b" " * (MAX_BODY // 10)

    r = server.client.post("/predict", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json() == {"error": f"request body is over the limit of {MAX_BODY:,} bytes: send fewer rows per request "
                                 "(the limit is serve --max-body-mb)"}


def test_online_windows_appear_in_monitor_and_feedback_joins_their_ids(server, tmp_path, capsys):
    df = default_df()
    sent = df.slice(100, 12)
    for i in range(0, 12, 3):  # 4 requests of 3 rows: windows close every 5 rows
        assert server.predict(sent.slice(i, 3).drop("default").to_dicts()).status_code == 200
    # The monitor thread closes a window at its next tick once it holds 5 rows: whatever the ticks
    # made of the 12 rows, 5 more close the window holding the last of them.
    assert server.predict([GOOD] * 5).status_code == 200
    labels = tmp_path / "labels.csv"
    sent.select("customer_id", "default").write_csv(labels)
    deadline = time.monotonic() + 30  # windows close every 5 rows, off the request path
    while True:
        fb = run_cli(capsys, server.root, "feedback", "credit", str(labels), "--id-column", "customer_id", "--json")
        assert fb.code == 0 or "no" in fb.stderr, fb.stderr
        if (fb.code == 0 and fb.json["rows_matched"] == 12) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    res = run_cli(capsys, server.root, "monitor", "credit", "--json")
    online = [j for j in res.json["jobs"] if j["kind"] == "online"]
    assert online, res.json
    assert all(j["job_status"] == "succeeded" and j["status"] in ("ok", "warn", "alert") for j in online)
    assert all(j["drift"] for j in online)  # measured against the training data, like a batch job
    assert fb.json["rows_matched"] == 12


def test_hot_swap_under_a_request_loop_fails_no_request(tmp_path, capsys):
    from mlops_tui.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws", create=True)
    credit_deployment(ws, versions=2)
    rows = default_df().head(20).drop("default").to_dicts()
    with serving(ws.root, "--poll", "0.3") as srv:
        seen: list[tuple[int, int]] = []
        stop = threading.Event()

        def loop():
            deadline = time.monotonic() + 60  # bounded in time and count
            while not stop.is_set() and time.monotonic() < deadline and len(seen) < 5000:
                r = srv.predict(rows)
                seen.append((r.status_code, r.json().get("version", -1)))

        t = threading.Thread(target=loop)
        t.start()
        try:
            while len(seen) < 20:
                time.sleep(0.05)
            promoted = run_cli(capsys, ws.root, "model", "promote", "credit:2", "--alias", "production", "--json")
            assert promoted.code == 0, promoted.stderr
            assert promoted.json["deployments"] == ["credit"]
            deadline = time.monotonic() + 20
            while not any(v == 2 for _, v in seen[-5:]) and time.monotonic() < deadline:
                time.sleep(0.1)
            after = len(seen)
            while len(seen) < after + 20 and time.monotonic() < deadline + 10:
                time.sleep(0.05)
        finally:
            stop.set()
            t.join(30)
        assert {s for s, _ in seen} == {200}
        versions = [v for _, v in seen]
        first_new = versions.index(2)
        assert set(versions[:first_new]) == {1} and set(versions[first_new:]) == {2}
        meta = srv.client.get("/metadata").json()
        assert (meta["version"], meta["swaps"]) == (2, 1)
    audit = run_cli(capsys, ws.root, "audit", "--json").json
    swap = next(e for e in audit if e["command"] == "serve swap")
    assert (swap["object"], swap["outcome"], swap["details"]["from"], swap["details"]["to"]) == \
        ("deployment:credit", "ok", "credit:1", "credit:2")


def test_sigterm_drains_a_request_in_flight_then_records_the_stop(tmp_path, capsys):
    from mlops_tui.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws", create=True)
    credit_deployment(ws)
    body = json.dumps([GOOD] * 3).encode()
    with serving(ws.root) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as sock:
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
            time.sleep(0.5)  # the request is in the app, waiting for the rest of its body
            srv.proc.send_signal(15)
            time.sleep(1.0)
            assert srv.proc.poll() is None  # still draining
            sock.sendall(body[10:])
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["version"] == 1
        assert srv.proc.wait(45) == 0
    listed = run_cli(capsys, ws.root, "serve", "list", "--all", "--json").json
    assert [(s["status"], s["requests"]) for s in listed] == [("stopped", 1)]
    jobs = run_cli(capsys, ws.root, "monitor", "credit", "--json").json["jobs"]
    assert [(j["kind"], j["rows"]) for j in jobs] == [("online", 3)]  # the last window closed on the way out


def test_detached_service_is_listed_and_stopped(tmp_path):
    from mlops_tui.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws", create=True)
    credit_deployment(ws)
    port = free_port()
    started = run_cli_subprocess(ws.root, "serve", "credit", "--port", port, "--detach", "--json")
    assert started.code == 0, started.stderr
    svc = started.json
    try:
        assert (svc["status"], svc["url"], svc["version"]) == ("running", f"http://127.0.0.1:{port}", 1)
        listed = run_cli_subprocess(ws.root, "serve", "list", "--json").json
        assert [(s["service_id"], s["pid"], s["status"]) for s in listed] == [(svc["service_id"], svc["pid"], "running")]
        table = run_cli_subprocess(ws.root, "serve", "list", env={"COLUMNS": "200"}).stdout
        assert f" {svc['pid']} " in table  # a process id as it is: '28,207' read as a count
        stopped = run_cli_subprocess(ws.root, "serve", "stop", "credit", "--json")
        assert stopped.code == 0, stopped.stderr
        assert [s["status"] for s in stopped.json["services"]] == ["stopped"]
        assert run_cli_subprocess(ws.root, "serve", "list", "--json").json == []
        assert "Application shutdown complete" in (tmp_path / "ws" / "services" / f"{svc['service_id']}.log").read_text()
    finally:
        import os
        import signal

        from mlops_tui.processes import alive

        if alive(svc["pid"]):
            os.kill(svc["pid"], signal.SIGKILL)


def test_serve_refuses_an_unknown_deployment_and_a_busy_port_in_one_line(tmp_path):
    from mlops_tui.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws", create=True)
    credit_deployment(ws)
    unknown = run_cli_subprocess(ws.root, "serve", "nope", "--port", free_port())
    assert (unknown.code, unknown.stderr.strip().splitlines()[-1]) == (1, "error: unknown deployment 'nope'")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = run_cli_subprocess(ws.root, "serve", "credit", "--port", port, "--detach")
    assert taken.code == 1
    assert taken.stderr.strip().splitlines()[-1] == \
        f"error: port {port} on 127.0.0.1 is already in use; pick another with --port"
    stop = run_cli_subprocess(ws.root, "serve", "stop", "credit")
    assert (stop.code, stop.stderr.strip()) == (1, "error: no running service of 'credit' (see `mlops-tui serve list`)")


def test_a_stopped_service_starts_again_on_its_port_at_once(tmp_path):
    """Connections the service closed linger in TIME_WAIT on its port for a minute; the port check
    before start-up bound without SO_REUSEADDR (which uvicorn sets), so `serve stop X && serve X`
    said "port ... is already in use" although nothing listened there."""
    from mlops_tui.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws", create=True)
    credit_deployment(ws)
    with serving(ws.root) as first:
        assert first.predict(GOOD, headers={"Connection": "close"}).status_code == 200  # the service closes it
        port = first.port
        assert first.terminate() == 0
    with serving(ws.root, port=port) as again:
        assert again.predict(GOOD).status_code == 200


def test_a_record_of_the_training_data_is_served_though_the_model_left_a_column_out(tmp_path, capsys):
    """ggplot2 txhousing: tuning leaves `sales` out of the model of `volume` (on its own it predicts
    it almost perfectly: a likely leak). A record shaped like the training rows, `sales` included,
    was refused ("1 column(s) the model does not use are refused ...: sales"); a column the
    training data never had still is."""
    (tx,) = corpus_sets(tmp_path / "corpus", ["txhousing"])
    root, years = tmp_path / "ws", pl.read_csv(tx.path)
    years.filter(pl.col("year") <= 2011).write_csv(tmp_path / "tx_to_2011.csv")
    for args in (["dataset", "add", str(tmp_path / "tx_to_2011.csv"), "--name", "tx", "--target", "volume"],
                 ["tune", "tx", "--trials", "2", "--jobs", "1", "--time-column", "date",
                  "--space", str(space_file(tmp_path))],
                 ["deploy", "tx:1", "--name", "tx", "--force"]):
        result = run_cli(capsys, root, *args, "--json")
        assert result.code == 0, result.stderr
    excluded = run_cli(capsys, root, "run", "list", "--json").json[0]
    assert "sales" not in run_cli(capsys, root, "run", "show", excluded["run_id"], "--json").json["prep"]["features"]
    rows = years.filter(pl.col("year") == 2015).head(3).drop("volume").to_dicts()  # rows of a later year
    with serving(root, deployment="tx") as srv:
        r = srv.predict(rows)
        assert r.status_code == 200, r.text
        assert len(r.json()["predictions"]) == 3 and "warnings" not in r.json()
        r = srv.predict([{**rows[0], "sales_typo": 1.0}])
        assert r.status_code == 422
        assert r.json()["problems"] == ["1 column(s) the model does not use are refused (serve --lenient ignores "
                                        "them): sales_typo"]
