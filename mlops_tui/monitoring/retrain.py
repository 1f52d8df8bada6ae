"""Continuous training and reproducibility: `retrain DEP --dataset REF` and `run reproduce RUN`.

Both reuse the one training path of tuning runs (:func:`mlops_tui.training.tuning.train_and_register`
and its pieces), so a retrained or reproduced model is made exactly like a tuned one.

Retrain: the challenger is trained on the new dataset version with the champion run's
configuration and parameters (or a short Optuna re-tune whose first trial is the champion's
parameters); champion and challenger are then scored on the SAME rows: the new version's holdout
(drawn with that version's own split seed) without the rows the champion learnt from (its run
recorded their keys, :mod:`mlops_tui.training.trained_rows`): when the new version holds the old rows plus new ones,
some of its holdout rows were the champion's training rows and would favour it. The payload says how
many rows remained. The challenger replaces the champion (alias ``production`` + the deployment)
only when the validation gate passes against the champion's figure on those rows and the
challenger is better (a check the champion fails as badly does not count against it, see
:func:`mlops_tui.registry.gate.check`); otherwise :class:`PolicyRefused` (exit 3) carries the comparison.
Everything that can be wrong with the input is checked before anything is written.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_tui.data import datasets, roles
from mlops_tui.errors import PolicyRefused, UserError
from mlops_tui.formatting import figure
from mlops_tui.registry import compiled, gate
from mlops_tui.registry import models as registry
from mlops_tui.registry.gate import Verdict
from mlops_tui.results import Result
from mlops_tui.training.signature import Signature, encode
from mlops_tui.training.tuning import protocol

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

    from mlops_tui.store import DatasetVersion, ModelVersion, Run
    from mlops_tui.training.metrics import Metrics
    from mlops_tui.training.prep import Prepared
    from mlops_tui.training.tuning.space import Params
    from mlops_tui.workspace import Workspace


def _champion_run(ws: Workspace, champion: ModelVersion) -> Run:
    from mlops_tui.store import NotFoundError

    if not champion.run_id:
        raise UserError(f"champion {champion.ref} has no run record, so there is no configuration to retrain with")
    try:
        run = ws.store.runs.get(champion.run_id)
    except NotFoundError as exc:
        raise UserError(f"champion {champion.ref}'s run {champion.run_id} is missing from the store") from exc
    if not run.best_params:
        raise UserError(f"run {run.run_id} of champion {champion.ref} has no best parameters recorded")
    return run


@dataclass(frozen=True)
class Contender(Result):
    model: str
    version: int
    ref: str
    metrics: Metrics


@dataclass(frozen=True)
class Pair(Result):
    champion: float | None
    challenger: float | None


@dataclass(frozen=True)
class Retrained(Result):
    """:func:`retrain`'s answer (also the payload of its PolicyRefused): both models' metrics on the
    same rows, the gate's verdict, and the one-line ``summary``."""

    promoted: bool
    deployment: str
    dataset: str
    run_id: str
    primary_metric: str
    holdout_rows: int
    compared_rows: int
    excluded_rows: int
    champion: Contender
    challenger: Contender
    metrics: dict[str, Pair]  # metric name → both figures
    gate: Verdict
    better: bool
    warnings: tuple[str, ...]
    summary: str


@dataclass(frozen=True)
class Reproduction(Result):
    """:func:`reproduce`'s answer: is the retrained model the recorded one?"""

    run_id: str
    model: str
    identical: bool
    max_abs_diff: float | None
    rows: int
    holdout_rows_identical: bool | None
    model_file_identical: bool
    dataset: str


@dataclass(frozen=True)
class Scored:
    """A model's metrics on some rows, with the labels (its own class indices) and predictions."""

    metrics: Metrics
    y: np.ndarray
    pred: np.ndarray
    threshold: float = 0.5  # a binary model's labels: class 1 where pred >= it (its tuned threshold)


def evaluate_on(ws: Workspace, model: ModelVersion, rows: pl.DataFrame, metric: str) -> Scored:
    """``model``'s metrics on ``rows`` (raw, with the target; encoded with the model's own signature)."""
    from mlops_tui.training import metrics as mx
    from mlops_tui.training.prep import labels

    sig = Signature.from_json(model.signature)
    booster, _ = registry.load(ws, model)
    X, _ = encode(rows, sig)
    try:
        y = labels(sig, rows[sig.target])
    except KeyError as exc:
        raise UserError(f"the new holdout has class {exc} that {model.ref} was never trained on") from exc
    import numpy as np

    pred = np.asarray(booster.predict(X.to_numpy()))
    threshold = mx.decision_threshold(model.metrics)
    return Scored({**mx.compute(sig.task, y, pred, list(sig.classes), threshold), "primary_metric": metric},
                  y, pred, threshold)


def _readable_by(champion: ModelVersion, rows: pl.DataFrame, ref: str) -> None:
    """UserError when ``champion`` cannot read ``rows`` the way `score` would refuse a file (a column
    retyped between versions: prices written '$13.25'): its figure on them would be of values read as
    missing, not a comparison. Checked before anything is written."""
    from mlops_tui.serving.batch import check_frame

    try:
        check_frame(rows, Signature.from_json(champion.signature), champion.ref)
    except UserError as exc:
        raise UserError(f"champion {champion.ref} cannot score {ref}'s holdout, so nothing can be compared: {exc}") from exc


def _measurable_on(ws: Workspace, champion: ModelVersion, rows: pl.DataFrame, metric: str, ref: str, holdout: int) -> None:
    """UserError when ``metric`` has no value on the rows left to compare on (a class missing, for an
    AUC), checked before anything is written: mosaicData Whickham (1,314 people, 84 % of them sharing
    smoker and age with another) kept 4 of 263 holdout rows once the rows the champion learnt from were
    left out, all alive; a challenger was trained, registered and refused as "not better on roc_auc"
    with both figures missing."""
    if evaluate_on(ws, champion, rows, metric).metrics.get(metric) is not None:
        return
    target = Signature.from_json(champion.signature).target
    values = rows[target].drop_nulls().unique()
    why = f"; all of them {target} {values[0]!r}" if values.len() == 1 else ""
    raise UserError(f"{metric} cannot be measured on the {rows.height} of {ref}'s {holdout} holdout rows that champion "
                    f"{champion.ref} did not learn from{why}: nothing fair to compare on; add a version with new rows")


def paired_noise(task: str, metric: str, challenger: Scored, champion: Scored) -> gate.DropNoise | None:
    """The paired bootstrap interval of how much worse the challenger is than the champion on the
    same rows: each draw resamples the rows once and scores both models on them, so the rows' own
    difficulty cancels and only the models' difference varies."""
    from mlops_tui import stats
    from mlops_tui.training import metrics as mx

    def drop(rows: np.ndarray) -> float | None:
        ours = mx.score(task, metric, challenger.y[rows], challenger.pred[rows], threshold=challenger.threshold)
        theirs = mx.score(task, metric, champion.y[rows], champion.pred[rows], threshold=champion.threshold)
        return None if ours is None or theirs is None else mx.worse_by(metric, ours, theirs)

    bounds = stats.bootstrap_interval(drop, len(champion.y))
    return None if bounds is None else gate.DropNoise(bounds[0], bounds[1], len(champion.y), paired=True)


@dataclass(frozen=True)
class Judged:
    """Champion and challenger scored on the same rows, and the gate's verdict on that comparison."""

    verdict: Verdict
    champion: Scored
    challenger: Scored
    noise: gate.DropNoise | None
    better: bool  # the challenger's metric beats the champion's on the rows


def judge(ws: Workspace, challenger: ModelVersion, champion: ModelVersion, rows: pl.DataFrame, metric: str, *,
          policy: dict[str, Any] | None = None) -> Judged:
    """The gate on ``challenger`` against ``champion``, both scored on ``rows`` (rows new to the
    champion): not on their stored holdout figures, which come from different rows whenever the
    dataset version changed. The drop is judged with its paired bootstrap interval; a challenger
    that wins on those rows is not refused for a check the champion fails as badly (a min_metric
    bound or a slice gap; never the no-skill level: see :func:`gate.check`)."""
    champ = evaluate_on(ws, champion, rows, metric)
    chall = evaluate_on(ws, challenger, rows, metric)
    noise = paired_noise(challenger.task, metric, chall, champ)
    on_rows = dataclasses.replace(challenger, metrics=chall.metrics)
    champion_on_rows = dataclasses.replace(champion, metrics=champ.metrics)
    shares = _class_shares(challenger.task, chall.y, len(Signature.from_json(challenger.signature).classes))
    verdict = gate.check(ws, on_rows, champion=champion_on_rows, policy=policy, noise=noise, shares=shares)
    return Judged(verdict, champ, chall, noise, gate.beats(on_rows, champion_on_rows))


def _class_shares(task: str, y: np.ndarray, classes: int) -> list[float] | None:
    """The share of each class (by index) among labels ``y``; None for a regression task."""
    if task == "regression" or len(y) == 0:
        return None
    import numpy as np

    return [float(n) / len(y) for n in np.bincount(y.astype(np.int64), minlength=classes)]


def rows_compared(compared: int, holdout: int, ref: str) -> str:
    """'1195 of pets:2's 1200 holdout rows (the 5 the champion learnt from left out)', or "mpls:2's 2230
    holdout rows" when none was left out (a batch of new rows: it said "(the 0 the champion learnt
    from left out)")."""
    if compared == holdout:
        return f"{ref}'s {holdout} holdout rows"
    return f"{compared} of {ref}'s {holdout} holdout rows (the {holdout - compared} the champion learnt from left out)"


def unseen_by(ws: Workspace, champion: ModelVersion, run: Run, holdout: pl.DataFrame) -> tuple[pl.DataFrame, str | None]:
    """The holdout rows ``champion`` did not learn from, and a note when that cannot be known."""
    from mlops_tui.training import trained_rows

    seen = trained_rows.learnt(ws.run_dir(run.run_id), holdout, Signature.from_json(champion.signature))
    if seen is None:
        return holdout, (f"champion {champion.ref} did not record its training rows (trained before they were "
                         "kept): compared on the whole holdout, which may include rows it learnt from")
    return holdout.filter(~seen), None


def _something_new(ws: Workspace, champion: ModelVersion, run: Run, prepared: Prepared, dv: DatasetVersion,
                   split_seed: int) -> None:
    """UserError when the challenger would learn nothing the champion did not: every row it would be
    fitted on is a row the champion learnt from (its run's keys) and it reads no column the champion
    does not. `retrain credit --dataset default:1` with the champion made from default:1 trained and
    registered default:2, a copy scoring the same on every metric, refused as 'not better' (hui5).
    A champion that did not record its rows is asked the same of its dataset version and split."""
    from mlops_tui.training import trained_rows
    from mlops_tui.training.prep import fitted_rows

    old = Signature.from_json(champion.signature)
    if not set(prepared.signature.source_columns) <= set(old.source_columns):
        return
    fitted = fitted_rows(prepared)
    seen = trained_rows.learnt(ws.run_dir(run.run_id), fitted, old)
    if seen is None:
        if (run.config.get("dataset_hash"), run.config.get("split_seed")) != (dv.hash, split_seed):
            return
    elif fitted.height == 0 or not bool(seen.all()):
        return
    learnt_from = f"{run.dataset}:{run.dataset_version}"
    what = (f"{dv.ref} is the data" if learnt_from == dv.ref
            else f"every row {dv.ref} would train a challenger on is one")
    raise UserError(f"{what} champion {champion.ref} learnt from ({learnt_from}): a challenger would have nothing new "
                    "to learn; register the new rows as a new dataset version and retrain on that")


def _retune(ws: Workspace, run: Run, prepared: Prepared, champion_params: Params,
            trials: int) -> tuple[Params, float | None]:
    """A short study warm-started with the champion's parameters; returns the best trial's parameters
    and value."""
    from mlops_tui.training.tuning import study as st
    from mlops_tui.training.tuning.worker import best_params, work

    space = run.config["space"]["params"]
    tuned = {k: v for k, v in champion_params.items() if isinstance(space.get(k), dict)}
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # cron output stays one line
    try:
        study = st.open_study(ws, run)
        study.enqueue_trial(tuned, skip_if_exists=True)
        work(ws, run, prepared, n_trials=trials, budget=None, sampler_seed=run.seed)
        best = st.open_study(ws, run).best_trial
    finally:
        optuna.logging.set_verbosity(level)
    return best_params(run, best), best.value


def retrain(ws: Workspace, deployment: str, dataset_ref: str, *, trials: int | None = None) -> Retrained:
    """Train a challenger on ``dataset_ref``, compare on its holdout, promote only if the gate passes."""
    from mlops_tui.store import utcnow
    from mlops_tui.training import metrics as mx
    from mlops_tui.training.tuning import train

    if trials is not None and trials < 1:
        raise UserError(f"--trials must be at least 1 (got {trials})")
    dep = registry.get_deployment(ws, deployment)
    champion = ws.store.models.get(dep.model_name, dep.model_version)
    champ_run = _champion_run(ws, champion)
    dv = datasets.resolve(ws, dataset_ref)
    old = champ_run.config
    # The new version's own holdout (its fixed split seed), unless the champion's run chose one.
    explicit = old.get("split_seed") if old.get("split_seed_source") == "--split-seed" else None
    split_seed, split_source = protocol.split_seed(dv, explicit, old.get("time_column"))
    config = {**old, "dataset": dv.name, "dataset_version": dv.version, "dataset_hash": dv.hash,
              "retrain_of": champion.ref, "trials": trials, "split_seed": split_seed,
              "split_seed_source": split_source, "jobs": 1, "trial_threads": 1,
              "id_columns": roles.id_columns(dv.schema)}
    prepared = train.prepare_config(ws, dv, config)  # bad data fails here, before any write
    config["protocol"] = protocol.choose(prepared, old.get("time_column")).to_json()
    metric = mx.check_metric(prepared.task, config.get("metric"))
    if prepared.task != champion.task:
        raise UserError(f"{dv.ref} makes a {prepared.task} task but champion {champion.ref} is {champion.task}")
    _something_new(ws, champion, champ_run, prepared, dv, split_seed)
    compared, note = unseen_by(ws, champion, champ_run, prepared.test)
    if compared.height == 0:
        raise UserError(f"all {prepared.test.height} holdout rows of {dv.ref} are rows champion {champion.ref} "
                        "learnt from: nothing fair to compare on; add a version with new rows")
    _readable_by(champion, compared, dv.ref)
    _measurable_on(ws, champion, compared, metric, dv.ref, prepared.test.height)

    run_id = uuid.uuid4().hex[:10]
    run = ws.store.runs.create(
        run_id=run_id, name=champion.name, dataset=dv.name, dataset_version=dv.version, target=config["target"],
        task=prepared.task, metric=metric, direction=mx.direction(metric), seed=champ_run.seed, config=config,
        n_trials_requested=trials, prep=prepared.report, status="running",
        started_at=utcnow(),  # it runs at once: its time shows in run lists (it was '-': no start)
    )
    obj = f"deployment:{dep.name}"
    try:
        params, best_value = dict(champ_run.best_params or {}), None
        if trials:
            params, best_value = _retune(ws, run, prepared, params, trials)
        challenger, chall_metrics, _ = train.train_and_register(
            ws, dataset=dv, config=config, params=params, model_name=champion.name, run_id=run_id, prepared=prepared)
        ws.store.runs.update(run_id, status="completed", best_params=params, test_metrics=chall_metrics,
                             best_value=best_value, model_name=challenger.name,
                             model_version=challenger.version, ended_at=utcnow())
        judged = judge(ws, challenger, champion, compared, metric)
    except BaseException as exc:
        ws.store.runs.update(run_id, status="failed", error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                             ended_at=utcnow())
        ws.store.audit.record("retrain", obj, "failed", {"run_id": run_id, "dataset": dv.ref, "error": str(exc)})
        raise

    champ_metrics, chall_metrics = judged.champion.metrics, judged.challenger.metrics
    verdict, noise, better = judged.verdict, judged.noise, judged.better
    ours, theirs = chall_metrics.get(metric), champ_metrics.get(metric)
    lost = lost_classes(champion, challenger)
    promoted = verdict.passed and better and not lost
    engine_info, engine_refusal = None, None
    if promoted and dep.engine == compiled.ENGINE:  # the winner must run on the deployment's engine too
        try:
            engine_info = compiled.load(ws, challenger).info
        except UserError as exc:
            promoted, engine_refusal = False, f"the deployment's compiled engine refused it: {exc}"
    keys = [k for k in mx.METRICS[prepared.task] if k in chall_metrics or k in champ_metrics]
    rows = rows_compared(compared.height, prepared.test.height, dv.ref)
    summary = f"{metric} {figure(ours)} (challenger {challenger.ref}) vs {figure(theirs)} (champion {champion.ref}) on {rows}"
    if promoted:
        summary = f"promoted {challenger.ref}: {summary}"
    else:
        reasons = list(verdict.reasons) + ([lost] if lost else [])
        reasons = reasons or [engine_refusal or f"challenger is not better on {metric}{_within(noise)}"]
        summary = f"kept {champion.ref}: {summary}; {'; '.join(reasons)}"
    if shared := gate.shared_failures(verdict.checks):  # not held against the challenger: say so
        summary += "; " + "; ".join(shared)
    result = Retrained(
        promoted, dep.name, dv.ref, run_id, metric, prepared.test.height, compared.height,
        prepared.test.height - compared.height,
        Contender(champion.name, champion.version, champion.ref, champ_metrics),
        Contender(challenger.name, challenger.version, challenger.ref, chall_metrics),
        {k: Pair(champ_metrics.get(k), chall_metrics.get(k)) for k in keys}, verdict, better,
        tuple(_signature_changes(champion, challenger) + ([note] if note else [])
              + ([narrow] if promoted and (narrow := _narrow_win(noise, metric)) else [])), summary)
    record = result.to_json()
    if not promoted:
        ws.store.audit.record("retrain", obj, "refused", {k: record[k] for k in ("run_id", "dataset", "metrics", "gate")}
                              | {"challenger": challenger.ref, "champion": champion.ref})
        raise PolicyRefused(summary, result)
    registry.promote(ws, challenger.ref, "production")
    ws.store.models.deploy(name=dep.name, model_name=challenger.name, model_version=challenger.version,
                           signature=challenger.signature, output_dir=dep.output_dir, forced=False,
                           gate=verdict.to_json(), engine=dep.engine, engine_info=engine_info)
    ws.store.audit.record("retrain", obj, "ok", {"run_id": run_id, "dataset": dv.ref, "champion": champion.ref,
                                                  "challenger": challenger.ref, "metrics": record["metrics"]})
    return result


FEW_ROWS = 30  # a win on fewer compared rows is said to rest on them: their bootstrap is no measure of chance


def _narrow_win(noise: gate.DropNoise | None, metric: str) -> str | None:
    """A promoted challenger's win that the rows compared on cannot tell from chance: its paired
    interval reaches 'worse', or there are fewer than :data:`FEW_ROWS` of them (a bootstrap of 8 rows
    on which the challenger ranks every case right never draws 'worse'). MASS birthwt's challenger
    replaced its champion for a roc_auc of 0.6 against 0.2 on 6 rows, a summary that read like a clear win."""
    if noise is None:
        return None
    if noise.high > 0:
        return (f"the win is within noise: over {noise.rows} paired rows the challenger's {metric} is "
                f"{figure(max(-noise.low, 0.0))} better to {figure(noise.high)} worse than the champion's "
                "(95% interval); more new labelled rows would tell the two apart")
    if noise.rows < FEW_ROWS:
        return (f"the win rests on {noise.rows} rows only (fewer than {FEW_ROWS}, too few to tell chance from "
                "skill); more new labelled rows would tell the two apart")
    return None


def _within(noise: gate.DropNoise | None) -> str:
    """Why a challenger worse by less than the noise is still not promoted: it did not win."""
    if noise is None:
        return ""
    return (f" (how much worse it is, over {noise.rows} paired rows: {noise.low:.4g} to {noise.high:.4g}; "
            "a challenger replaces the champion only when it is better on the same rows)")


def _signature_changes(champion: ModelVersion, challenger: ModelVersion) -> list[str]:
    """What scripts downstream of the deployment would notice if the challenger replaced the champion."""
    old, new = Signature.from_json(champion.signature), Signature.from_json(challenger.signature)
    notes = []
    lost_ids = [c for c in old.id_columns if c not in new.id_columns]
    if lost_ids:
        notes.append(f"{_dataset_of(challenger)} has no id column {', '.join(lost_ids)} (the champion's): "
                     "scoring output would not carry it, so feedback could not join labels to it")
    added = [c for c in new.source_columns if c not in old.source_columns]
    if added:
        notes.append(f"the challenger also reads {', '.join(added)}: input files must have "
                     f"{'it' if len(added) == 1 else 'them'}")
    return notes


def lost_classes(champion: ModelVersion, challenger: ModelVersion) -> str | None:
    """Why a challenger that knows fewer classes than the champion is not promoted, whatever its metric:
    ISLR Wage's race '4. Other' (1.2 % of rows) absent from a later batch made a challenger that can
    never predict it and whose scores lack its probability column, promoted for a log_loss measured on
    rows that held none of it. None when it knows every class the champion knows. A pipeline's gate
    stage asks the same of the model it would deploy."""
    known = set(Signature.from_json(challenger.signature).classes)
    lost = [c for c in Signature.from_json(champion.signature).classes if c not in known]
    if not lost:
        return None
    return (f"challenger {challenger.ref} cannot predict {', '.join(map(repr, lost))}, which champion "
            f"{champion.ref} can ({_dataset_of(challenger)}'s training rows hold none of {'it' if len(lost) == 1 else 'them'}; its "
            f"scores would lack {', '.join('proba_' + c for c in lost)}); if the class is gone for good, "
            f"deploy {challenger.ref} by hand")


def _dataset_of(model: ModelVersion) -> str:
    return f"{model.dataset}:{model.dataset_version}" if model.dataset else "the new dataset"


def reproduce(ws: Workspace, run_ref: str) -> Reproduction:
    """Retrain a run's final model from its record (nothing registered); compare holdout predictions."""
    import numpy as np

    from mlops_tui.training import tuning
    from mlops_tui.training.modelfile import model_bytes
    from mlops_tui.training.tuning import train

    run = tuning.get(ws, run_ref)
    if not run.best_params or not run.model_name or run.model_version is None:
        raise UserError(f"run {run.run_id} has no final model to reproduce (status {run.status})")
    original = ws.store.models.get(run.model_name, run.model_version)
    dv = datasets.resolve(ws, f"{run.dataset}:{run.dataset_version}")
    recorded_hash = run.config.get("dataset_hash")
    if recorded_hash and recorded_hash != dv.hash:
        raise UserError(f"dataset {dv.ref} no longer has the content run {run.run_id} was trained on")
    prepared = train.prepare_config(ws, dv, run.config)
    booster = train.fit_model(prepared, run.config, train.full_params(run.config, run.best_params, prepared))
    X, _ = prepared.xy(prepared.test)
    again = train.predict(booster, X)
    old_booster, _ = registry.load(ws, original)
    before = train.predict(old_booster, encode(prepared.test, Signature.from_json(original.signature))[0].to_numpy())
    same_shape = before.shape == again.shape
    diff = float(np.max(np.abs(before - again))) if same_shape and before.size else (0.0 if same_shape else None)
    holdout_file = ws.run_dir(run.run_id) / "holdout.parquet"
    holdout_same = None
    if holdout_file.exists():
        import polars as pl

        holdout_same = pl.read_parquet(holdout_file).equals(prepared.test)
    identical = bool(same_shape and diff == 0.0)
    result = Reproduction(run.run_id, original.ref, identical, diff, int(prepared.test.height), holdout_same,
                          model_bytes(booster) == model_bytes(old_booster), dv.ref)
    ws.store.audit.record("run reproduce", f"run:{run.run_id}", "ok" if identical else "failed", result.to_json())
    return result
