"""Registry: model versions, aliases, deployments, the validation gate, lineage.

Public API (import the module, e.g. ``from mlops_tui.registry import models``):

* ``models``: ``resolve_model`` (NAME, NAME:VERSION, NAME@ALIAS), ``load`` (sha256-checked),
  ``list_models``, ``show``, ``promote``, ``rollback``, ``deploy`` (gate checked), ``resolve_target``
* ``gate``: ``check`` (may this version serve?), ``explain``, ``shared_failures`` (checks passed only
  because the champion fails them too), ``beats``, ``Verdict``
* ``lineage``: ``lineage`` (data → run → model → deployment → jobs), ``events`` (the audit trail)
* ``evidence``: what `run show` shows for choosing a model (importance, slices, per class, gate verdict)
* ``compiled``: a deployed model compiled once to native code (`deploy --engine compiled`)
* ``export``: a registered model as files another program runs (`model export`)
"""
