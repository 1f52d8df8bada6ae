"""Evaluation: a model on labelled rows, the evidence behind it, comparisons and reports."""
