"""Fixtures and helpers for the compare, models, monitoring and SQL screen tests.

The app under test is the real Workbench (screens.app) opened on one main screen. Waiting is by
polling the app's workers with ``pilot.pause`` (bounded), never by fixed sleeps. Snapshot data
is written through the store's API under conftest's ``frozen_clock``, so the rendered screens are
the same on every run.
"""

from __future__ import annotations

from typing import Any


async def settle(pilot: Any, *, rounds: int = 600) -> None:
    """Pause until no worker is pending or running (bounded: rounds × 20 ms of app time)."""
    app = pilot.app
    for _ in range(rounds):
        await pilot.pause(0.02)
        if not any(w.state.name in ("PENDING", "RUNNING") for w in app.workers):
            break
    await pilot.pause()


def screen_text(app: Any) -> list[str]:
    """The terminal's rows as a person sees them now (plain text), to check that something is on
    screen, not only in a widget: rendered the way App.export_screenshot renders its SVG."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, record=True,
                      legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text().splitlines()


def cut_columns(table: Any) -> list[str]:
    """Labels of a table's columns that end past its visible width (cut off on screen)."""
    import itertools

    shown = table.scrollable_content_region.width
    ends = itertools.accumulate(c.get_render_width(table) for c in table.ordered_columns)
    return [str(c.label) for c, end in zip(table.ordered_columns, ends, strict=True) if end > shown]


def notes(app: Any) -> list[str]:
    """Texts of every notification shown so far (expired ones too: a slow machine outlives them)."""
    return list(getattr(app, "seen_notes", [])) or [n.message for n in app._notifications]


def app_on(ws: Any, start: str) -> Any:
    """The Workbench opened on main screen ``start``, remembering every notification it shows."""
    from mlops_tui.screens.app import Workbench

    app = Workbench(ws, start=start)
    app.seen_notes = []
    shown = app.notify

    def notify(message: str, *args: Any, **kwargs: Any) -> None:
        app.seen_notes.append(str(message))
        shown(message, *args, **kwargs)

    app.notify = notify
    return app


# -- store records for snapshots (no model files needed: the screens only read the store) --------
SIG = {"task": "binary", "target": "default", "features": [], "classes": ["No", "Yes"]}


def fake_model(ws: Any, name: str, score: float, **extra: Any) -> Any:
    metrics = {"primary_metric": "roc_auc", "roc_auc": score, "accuracy": round(score - 0.1, 4), **extra}
    return ws.store.models.register(name=name, path=f"artifacts/models/{name}.txt", sha256="0" * 64,
                                    task="binary", signature=SIG, dataset="default", dataset_version=1,
                                    metrics=metrics)


def fake_job(ws: Any, job_id: str, deployment: str | None, model: Any, *, status: str = "succeeded",
             rows: int = 10_000, drift: str | None = "ok", pred_drift: float | None = 0.01,
             error: str | None = None) -> None:
    ws.store.jobs.start(job_id=job_id, model_name=model.name, model_version=model.version,
                        inputs=[{"path": "data/new.csv"}], deployment=deployment)
    ws.store.jobs.finish(job_id, status=status, rows_in=rows, rows_out=rows if status == "succeeded" else 0,
                         seconds=0.5, rows_per_s=rows / 0.5, output=f"artifacts/scores/{job_id}.parquet",
                         drift_status=drift, prediction_drift=pred_drift, error=error)


def registry_fixture(ws: Any) -> dict[str, Any]:
    """credit:1..3 (v2 in production, deployed as credit-batch) and two jobs."""
    with ws.session():  # one open of the store for the setup's writes
        v1 = fake_model(ws, "credit", 0.81)
        v2 = fake_model(ws, "credit", 0.86)
        v3 = fake_model(ws, "credit", 0.84)
        ws.store.models.set_alias("credit", "production", v2.version)
        ws.store.models.deploy(name="credit-batch", model_name="credit", model_version=v2.version,
                               signature=SIG, output_dir="artifacts/scores/credit-batch")
        fake_job(ws, "a1b2c3d4e5f6", "credit-batch", v2)
        fake_job(ws, "0f9e8d7c6b5a", "credit-batch", v2, status="failed", rows=120, drift=None,
                 pred_drift=None, error="input data/bad.csv has no column 'balance'")
        return {"versions": [v1, v2, v3]}


def monitoring_fixture(ws: Any) -> dict[str, Any]:
    """Deployment credit-batch with three jobs: ok, warn, alert (drift rows per feature) and
    feedback on the latest; a second deployment with no jobs yet."""
    with ws.session():  # one open of the store for the setup's writes
        from mlops_tui.store import DriftResult

        v1 = fake_model(ws, "credit", 0.86)
        ws.store.models.deploy(name="credit-batch", model_name="credit", model_version=v1.version, signature=SIG)
        ws.store.models.deploy(name="credit-shadow", model_name="credit", model_version=v1.version, signature=SIG)
        plan = [("job1aaaaaaaa", "ok", 0.01, {"balance": (0.02, "ok"), "income": (0.03, "ok")}),
                ("job2bbbbbbbb", "warn", 0.08, {"balance": (0.15, "warn"), "income": (0.04, "ok")}),
                ("job3cccccccc", "alert", 0.31, {"balance": (0.42, "alert"), "income": (0.12, "warn")})]
        for job_id, status, pred, features in plan:
            fake_job(ws, job_id, "credit-batch", v1, drift=status, pred_drift=pred)
            ws.store.jobs.add_drift([
                DriftResult(job_id=job_id, feature=f, kind="numeric", psi=psi, ks_stat=psi / 2,
                            ks_pvalue=0.5 if st == "ok" else 1e-4, null_rate_ref=0.0, null_rate_cur=0.0,
                            new_categories=None, status=st) for f, (psi, st) in features.items()
            ] + [DriftResult(job_id=job_id, feature="student", kind="categorical", psi=0.01, ks_stat=None,
                             ks_pvalue=None, null_rate_ref=0.0, null_rate_cur=0.1, new_categories=2,
                             status="ok")])
        ws.store.jobs.add_feedback(feedback_id="fb1", deployment="credit-batch", job_id="job3cccccccc",
                                   rows_matched=900, status="alert", metrics={
            "roc_auc": 0.79, "comparison": {"metric": "roc_auc", "live": 0.79, "holdout": 0.86, "drop": 0.07,
                                            "limit": 0.01, "status": "alert"}})
        return {"model": v1}
