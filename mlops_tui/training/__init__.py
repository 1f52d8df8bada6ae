"""Training: preparation, signature and encoding, model files, metrics, and tuning runs.

Public API (import the module, e.g. ``from mlops_tui.training import prep``):

* ``prep``: ``prepare`` (split, encode, check a dataset version for one task) → ``Prepared``
* ``signature``: ``Signature`` / ``Feature``: the model's input contract and category encoding,
  applied identically when scoring
* ``modelfile``: ``save_model`` / ``load_model`` (LightGBM text + JSON sidecar + sha256, no pickle)
* ``metrics``: ``compute`` (the task's scikit-learn metrics), ``check_metric``, ``direction``,
  ``LOWER_IS_BETTER``, ``better``
* ``reference``: the training-data bins that drift is measured against
* ``trained_rows``: the keys of the rows a run's model learnt from (``row_keys``, ``write``, ``learnt``)
* ``tuning`` (subpackage): Optuna studies that end in a holdout-evaluated, registered model

The core modules (everything but ``tuning``) import only ``data`` and the shared base; ``tuning``
sits above ``evaluation`` and ``registry`` because a run ends by evaluating and registering.
"""
