"""The FLAML side of bench/vs_flaml.py, run by the Python of FLAML's own virtual environment.

    FLAML_PY bench/_flaml_side.py TRAIN.csv TEST.csv TARGET TASK METRIC BUDGET OUT_DIR

Writes OUT_DIR/flaml.csv and OUT_DIR/default.csv (class probabilities or values for the test rows,
one column per class named by the class, or ``prediction``) and prints one JSON line with the wall
and CPU seconds of FLAML's fit. Both use LightGBM only: FLAML with ``estimator_list=["lgbm"]``,
``time_budget=BUDGET``, every core; "default" is LightGBM's scikit-learn estimator as shipped.
Text columns become pandas categoricals (what both understand natively).
"""

from __future__ import annotations

import json
import resource
import sys
import time


def cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    if len(sys.argv) < 8:  # `make bench` runs every bench/*.py: this one only serves vs_flaml.py
        print(__doc__.splitlines()[0])
        return
    import lightgbm as lgb
    import pandas as pd
    from flaml import AutoML

    train_csv, test_csv, target, task, metric, budget, out_dir = sys.argv[1:8]
    train, test = pd.read_csv(train_csv), pd.read_csv(test_csv)
    X, y = train.drop(columns=[target]), train[target]
    Xt = test.drop(columns=[target])
    for col in X.columns:
        if X[col].dtype == object or str(X[col].dtype).startswith(("str", "string")):
            cats = pd.CategoricalDtype(sorted(set(X[col].dropna().astype(str))))
            X[col] = X[col].astype(str).where(X[col].notna()).astype(cats)
            Xt[col] = Xt[col].astype(str).where(Xt[col].notna()).astype(cats)
    if task != "regression":
        y = y.astype(str)

    def write(model: object, name: str) -> None:
        if task == "regression":
            frame = pd.DataFrame({"prediction": model.predict(Xt)})
        else:
            proba = model.predict_proba(Xt)
            frame = pd.DataFrame(proba, columns=[str(c) for c in model.classes_])
        frame.to_csv(f"{out_dir}/{name}.csv", index=False)

    default = lgb.LGBMRegressor(verbose=-1) if task == "regression" else lgb.LGBMClassifier(verbose=-1)
    default.fit(X, y)
    write(default, "default")

    automl = AutoML()
    flaml_task = "classification" if task != "regression" else "regression"
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    automl.fit(X, y, task=flaml_task, metric=metric, time_budget=float(budget), estimator_list=["lgbm"],
               n_jobs=-1, seed=0, verbose=0)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    write(automl, "flaml")
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "best_config": automl.best_config}, default=str))


if __name__ == "__main__":
    main()
