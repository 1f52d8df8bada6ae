"""Monitoring: drift and live performance per deployment, retraining and reproduction.

Public API (import the module, e.g. ``from mlops_tui.monitoring import monitor``):

* ``monitor``: ``monitor`` (drift and performance per scoring job of a deployment), ``feedback``
  (join labels that arrived later to scored rows), ``pick_job``
* ``retrain``: ``retrain`` (challenger vs champion; promote only if the gate passes) and
  ``reproduce`` (retrain a run from its record, compare holdout predictions)

The top of the domain: it may use every other lifecycle package.
"""
