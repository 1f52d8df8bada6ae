"""The LightGBM search space: a sensible default, overridable by a TOML file (`--space FILE`).

A space file maps parameter names to a range, a list of choices, or a fixed value::

    num_boost_round = 300            # settings: boosting rounds cap and early stopping patience
    early_stopping_rounds = 30
    pruner = "median"                # median | halving (successive halving) | none

    [params.num_leaves]
    low = 8
    high = 64
    log = true                       # int when low/high are ints, float otherwise

    [params.learning_rate]
    low = 0.01
    high = 0.2
    log = true

    [params]
    boosting = { choices = ["gbdt", "dart"] }
    lambda_l1 = 0.0                  # fixed

Parameters in the file replace the default entry of the same name; the others stay. The parsed
space is a plain JSON-able dict stored in the run's config, so a resumed run or a reproduction
uses exactly the same space even if the file changed.

The default rounds cap and learning-rate floor scale with the time budget (:func:`default_space`):
a longer budget affords slower, finer learning rates with more rounds. :func:`warm_starts` gives
the first trials of every study: LightGBM's defaults and proven configurations for the data's shape.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_tui.errors import UserError

Space = dict[str, Any]
"""A parsed search space (``params`` and the settings above): the user's file, kept in the run's config."""
Params = dict[str, Any]
"""LightGBM parameters by their LightGBM names (a trial's, the best ones, a warm start)."""

if TYPE_CHECKING:
    import optuna

# Wide enough for a few hundred noisy rows (trees of 2 leaves, leaves of 2 rows, strong L1/L2) as
# well as for large data. Measured on the corpus (the same trials, one refit, external 25 %): this
# space with the category settings below, against 8-128 leaves, 5+ rows a leaf and L1/L2 up to 10,
# scored better on 8 of 12 sets (swisslabor AUC 0.717 -> 0.738, attrition 0.805 -> 0.827).
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "num_leaves": {"low": 2, "high": 128, "log": True},
    "learning_rate": {"low": 0.01, "high": 0.3, "log": True},
    "min_child_samples": {"low": 2, "high": 100, "log": True},
    "feature_fraction": {"low": 0.5, "high": 1.0},
    "bagging_fraction": {"low": 0.5, "high": 1.0},
    "bagging_freq": {"low": 0, "high": 7},
    "lambda_l1": {"low": 1e-8, "high": 100.0, "log": True},
    "lambda_l2": {"low": 1e-8, "high": 1000.0, "log": True},
}
# Tuned only when the data has a categorical feature. LightGBM's defaults (a category split needs
# 100 rows a side, categories under 10 rows are ignored) suit large data; on a few hundred rows they
# forbid every split on a category: mpg's car model, which nearly names the class, went unused
# (test log loss 1.16; with these tuned, 0.23).
CATEGORICAL_PARAMS: dict[str, dict[str, Any]] = {
    "min_data_per_group": {"low": 2, "high": 100, "log": True},
    "cat_smooth": {"low": 0.1, "high": 50.0, "log": True},
}
DEFAULT_SETTINGS: dict[str, Any] = {"num_boost_round": 500, "early_stopping_rounds": 30, "pruner": "median"}
SETTINGS = set(DEFAULT_SETTINGS)
PRUNERS = ("median", "halving", "none")


def _check_entry(name: str, spec: Any, where: str) -> Any:
    if isinstance(spec, bool | int | float | str):
        return spec  # a fixed value
    if not isinstance(spec, dict):
        raise UserError(f"{where}: parameter {name!r} must be a value, a {{low, high}} range or {{choices}}")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise UserError(f"{where}: parameter {name!r} needs a non-empty list of choices")
        return {"choices": choices}
    low, high = spec.get("low"), spec.get("high")
    unknown = set(spec) - {"low", "high", "log", "step"}
    if unknown:
        raise UserError(f"{where}: parameter {name!r} has unknown key(s) {', '.join(sorted(unknown))}")
    if not isinstance(low, int | float) or not isinstance(high, int | float) or isinstance(low, bool):
        raise UserError(f"{where}: parameter {name!r} needs numeric low and high")
    if low > high:
        raise UserError(f"{where}: parameter {name!r} has low {low} above high {high}")
    if "log" in spec and not isinstance(spec["log"], bool):
        raise UserError(f"{where}: parameter {name!r} has log = {spec['log']!r}; use true or false")
    step = spec.get("step")
    if step is not None and (not isinstance(step, int | float) or isinstance(step, bool) or step <= 0):
        raise UserError(f"{where}: parameter {name!r} needs a positive numeric step (got {step!r})")
    if spec.get("log") and low <= 0:
        raise UserError(f"{where}: parameter {name!r} is log-scaled so low must be > 0 (got {low})")
    return {k: spec[k] for k in ("low", "high", "log", "step") if k in spec}


# Set by the workbench from the task and options: a space file may not change them.
RESERVED = ("objective", "num_class", "metric", "num_iterations", "early_stopping_round")


def _lgb_aliases() -> dict[str, str] | None:
    """Every LightGBM parameter name and alias → its main name (None if LightGBM has no list)."""
    try:
        from lightgbm.basic import _ConfigAliases

        aliases = _ConfigAliases._get_all_param_aliases()
    except Exception:  # noqa: BLE001 - a LightGBM without this list: leave the names to LightGBM
        return None
    return {alias: main for main, names in aliases.items() for alias in (main, *names)}


def _check_name(name: str, where: str, mains: dict[str, str] | None) -> str:
    """The main name of ``name``. Refuses a name LightGBM does not know (it would silently ignore
    a typo such as num_leafs) and the parameters the workbench sets itself."""
    import difflib

    if mains is None:
        return name
    if name not in mains:
        close = difflib.get_close_matches(name, sorted(mains), n=1)
        raise UserError(f"{where}: {name!r} is not a LightGBM parameter"
                        + (f" (did you mean {mains[close[0]]!r}?)" if close else ""))
    if mains[name] in RESERVED:
        raise UserError(f"{where}: {name!r} is set by the workbench and cannot be tuned"
                        + ("; use num_boost_round" if mains[name] == "num_iterations" else ""))
    return mains[name]


def default_space(budget_s: float | None = None, categorical: bool = False) -> Space:
    """The default space (with the categorical parameters when the data has a categorical feature);
    with a time budget, the rounds cap grows with it (40 rounds a second,
    1,000 to 5,000) and the learning-rate floor falls to match (10 / cap: a rate that small needs
    about that many rounds), with a patience of a twentieth of the cap."""
    params = {**DEFAULT_PARAMS, **(CATEGORICAL_PARAMS if categorical else {})}
    space = {"settings": dict(DEFAULT_SETTINGS), "params": {k: dict(v) for k, v in params.items()}}
    if budget_s is not None:
        cap = int(min(5000, max(1000, 40 * budget_s)))
        space["settings"].update(num_boost_round=cap, early_stopping_rounds=max(30, cap // 20))
        space["params"]["learning_rate"]["low"] = round(min(0.01, 10 / cap), 5)
    return space


# First trials of every study (issue 13): LightGBM's defaults, then configurations that are known to
# do well for the data's shape. Names are the default space's; values outside the run's space are
# clipped to it and parameters it does not tune are left out (see warm_starts).
_LGB_DEFAULTS = {"num_leaves": 31, "learning_rate": 0.1, "min_child_samples": 20, "feature_fraction": 1.0,
                 "bagging_fraction": 1.0, "bagging_freq": 0, "lambda_l1": 1e-8, "lambda_l2": 1e-8,
                 "min_data_per_group": 100, "cat_smooth": 10.0}
_SMALL = {"num_leaves": 8, "learning_rate": 0.03, "min_child_samples": 8, "feature_fraction": 0.7,
          "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l1": 1e-8, "lambda_l2": 1.0,
          "min_data_per_group": 10, "cat_smooth": 1.0}
_LARGE = {"num_leaves": 96, "learning_rate": 0.05, "min_child_samples": 20, "feature_fraction": 0.8,
          "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l1": 1e-8, "lambda_l2": 0.1,
          "min_data_per_group": 100, "cat_smooth": 10.0}
_SHALLOW = {"num_leaves": 16, "learning_rate": 0.05, "min_child_samples": 30, "feature_fraction": 0.9,
            "bagging_fraction": 0.9, "bagging_freq": 1, "lambda_l1": 0.01, "lambda_l2": 3.0,
            "min_data_per_group": 30, "cat_smooth": 10.0}


def warm_starts(space: Space, rows: int, features: int) -> list[Params]:
    """The configurations the study tries first, fitted to ``space`` (tuned parameters only, clipped
    to their range, ints rounded, choices kept only when allowed): LightGBM's defaults, one for the
    data's size (small < 5,000 rows: few leaves, slow rate, strong L2; else many leaves), and one
    for its width (wide > 50 features: a low feature fraction; narrow: shallow trees, more data a leaf)."""
    shape = dict(_SMALL if rows < 5000 else _LARGE)
    width = {**_SHALLOW, "feature_fraction": 0.3} if features > 50 else dict(_SHALLOW)
    out: list[dict[str, Any]] = []
    for config in (_LGB_DEFAULTS, shape, width):
        fitted: dict[str, Any] = {}
        for name, spec in space["params"].items():
            if not isinstance(spec, dict) or name not in config:
                continue
            value = config[name]
            if "choices" in spec:
                if value in spec["choices"]:
                    fitted[name] = value
                continue
            value = min(max(value, spec["low"]), spec["high"])
            if isinstance(spec["low"], int) and isinstance(spec["high"], int):
                value = int(round(value))
            fitted[name] = value
        if fitted and fitted not in out:
            out.append(fitted)
    return out


def load_space(path: str | Path | None, budget_s: float | None = None, categorical: bool = False) -> Space:
    """The default space (scaled to ``budget_s``; see :func:`default_space`), with a TOML file's
    entries laid over it. UserError on a malformed file."""
    space = default_space(budget_s, categorical)
    if path is None:
        return space
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise UserError(f"space file {path} does not exist") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"space file {path} is not valid TOML: {exc}") from exc
    params = doc.pop("params", {})
    if not isinstance(params, dict):
        raise UserError(f"space file {path}: [params] must be a table")
    for key, value in doc.items():
        if key not in SETTINGS:
            raise UserError(f"space file {path}: unknown setting {key!r} (settings: {', '.join(sorted(SETTINGS))}; "
                            "parameters go under [params])")
        if key == "pruner":
            if value not in PRUNERS:
                raise UserError(f"space file {path}: pruner must be one of {', '.join(PRUNERS)} (got {value!r})")
        elif not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UserError(f"space file {path}: {key} must be a positive integer (got {value!r})")
        space["settings"][key] = value
    mains = _lgb_aliases() if params else None
    for name, spec in params.items():
        main = _check_name(name, f"space file {path}", mains)
        # An alias replaces the default entry it stands for (reg_alpha replaces lambda_l1).
        for other in [k for k in space["params"] if k != name and mains and mains.get(k) == main]:
            space["params"].pop(other, None)
        space["params"][name] = _check_entry(name, spec, f"space file {path}")
    return space


def suggest(trial: optuna.Trial, space: Space) -> Params:
    """Draw one configuration for ``trial`` from ``space['params']`` (fixed values pass through).

    Names are drawn in sorted order: the sampler's random stream then does not depend on the order
    of a dict that went through the store's JSON, so the same seed gives the same trials."""
    out: dict[str, Any] = {}
    for name, spec in sorted(space["params"].items()):
        if not isinstance(spec, dict):
            out[name] = spec
        elif "choices" in spec:
            out[name] = trial.suggest_categorical(name, spec["choices"])
        elif isinstance(spec["low"], int) and isinstance(spec["high"], int):
            out[name] = trial.suggest_int(name, spec["low"], spec["high"], log=bool(spec.get("log")),
                                          step=int(spec.get("step", 1)))
        else:
            out[name] = trial.suggest_float(name, float(spec["low"]), float(spec["high"]),
                                            log=bool(spec.get("log")), step=spec.get("step"))
    return out
