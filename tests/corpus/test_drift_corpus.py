"""Drift on real public data (bench/corpus.py): a model tuned on a corpus set stays quiet on random
samples of the same set, from 200 rows to every row, and alerts on exactly the feature shifted in a
copy (a numeric one moved by one standard deviation, a category's share doubled). The whole corpus,
with the false-alarm count: bench/drift_corpus.py."""

from __future__ import annotations

import pytest

from tests.corpus_helpers import corpus_sets, drift_check

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("name", "shifts", "warn_only"), [
    ("hmda", 2, ()), ("carseats", 2, ()),  # binary and regression; numeric and categorical shifts
    # multiclass, 234 rows: its category doubling (dodge 16 % -> 32 % against a 187-row reference)
    # gives Fisher p = 0.0014 after the Bonferroni correction, just above the alert line (0.001):
    # at this size a doubled share is a warn, not yet a certainty. It must still warn there and
    # alert nowhere else.
    ("mpg", 2, ("manufacturer",)),
    # 2,201 rows in 14 distinct feature rows: the old reference (snapshot anti-joined with the holdout
    # on values) lost most rows, and 63 of 84 same-distribution checks alerted.
    ("titanic", 1, ()),
])
def test_same_distribution_is_quiet_and_a_shift_alerts_on_the_shifted_feature(ws, tmp_path, name, shifts,
                                                                                 warn_only):
    s = corpus_sets(tmp_path / "corpus", [name])[0]
    check = drift_check(ws, s, tmp_path, sizes=(200, None), repeats=2, trials=2)
    alerts, warns, statuses = check.false_alarms()
    assert alerts == 0 and warns <= 0.05 * statuses, check.same
    assert len(check.shifted) == shifts
    for _what, moved, st in check.shifted:
        for feature in moved:
            assert st[feature] == ("warn" if feature in warn_only else "alert"), (feature, st)
    assert check.shift_problems(allow_warn=warn_only) == []
