"""Data: reading user files, the dataset registry (content-addressed versions), profiles.

Public API (import the module, e.g. ``from mlops_tui.data import datasets``):

* ``datasets``: ``add`` (register a CSV/Parquet file as an immutable version), ``resolve`` (NAME or
  NAME:VERSION), ``load`` / ``scan`` (a version's rows), ``page`` (rows for the TUI's preview)
* ``comparison``: ``diff`` (schema changes and per-column drift between two versions)
* ``validation``: ``validate`` (a file against a version's schema contract)
* ``readers``: ``read_file`` / ``scan_csv`` / ``sniff_csv`` / ``collect``: every user file is read here,
  with one-line errors naming the file, line and column
* ``profiling``: per-column ``profile`` of a version (DuckDB SUMMARIZE over its snapshot) and the
  counts (``numeric_counts``, ``category_counts``) that ``comparison.diff`` judges by :mod:`mlops_tui.stats`
* ``dates``: ``infer_format`` / ``parse`` for dates written as text (1/13/2019, 13.01.2019), so
  training, scoring and evaluation read a date column the same way

Nothing here imports another lifecycle package; heavy libraries load inside the functions.
"""
