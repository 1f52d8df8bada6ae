"""Evaluation: a model on labelled rows, the evidence behind it, comparisons and reports.

Public API (import the module, e.g. ``from mlops_tui.evaluation import compare``):

* ``evaluate``: ``record_holdout`` (what a run calls after registering its model),
  ``evaluate_model`` (a registered model on another labelled dataset version), ``evaluate_frame``
* ``records``: reading stored evaluations (``holdout_of_run``, ``holdout_of_model``,
  ``details_for_run``) without polars, numpy or scikit-learn
* ``details``: curves, confusion, importances, slices of one evaluation
* ``compare``: ``compare`` runs side by side (`run compare`)
* ``report``: ``write_report``, one self-contained HTML file (``report_svg`` draws its charts)
"""
