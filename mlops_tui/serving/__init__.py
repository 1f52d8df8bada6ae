"""Serving: batch scoring of deployments, its I/O, the drift measured while scoring, dead-job sweeps.

Public API (import the module, e.g. ``from mlops_tui.serving import scoring``):

* ``scoring``: ``score`` (stream inputs through a model into one atomic output, record the job)
* ``batch``: ``score_batch`` / ``check_schema``: one batch through a predictor, shared by every
  engine (local, Dask, HTTP)
* ``io``: input planning and batches, ``AtomicParquet`` output
* ``drift``: the drift tracker (its statistics: :mod:`mlops_tui.stats`)
* ``predictor``: the engines a deployment scores with (LightGBM, compiled), by name
* ``dask_engine``: scoring on a Dask cluster; ``service`` / ``http`` / ``online`` / ``request``: a
  deployment over HTTP (`serve`)
* ``sweep``: ``sweep_jobs`` / ``recent_jobs``: jobs whose process died are failed (light: no polars)
"""
