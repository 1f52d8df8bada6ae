"""`evaluate` names the measure of its largest slice gap: 'largest slice gap: 0.12' could be a
WAPE, a relative or scaled MAE or an AUC; `--json` says it too ("slice_metric")."""

from __future__ import annotations

import pytest

from tests.tuning_helpers import add_sample, space_file

pytestmark = pytest.mark.slow


def test_evaluate_names_the_measure_and_feature_of_its_largest_slice_gap(ws, cli, tmp_path):
    add_sample(ws, "bikeshare", target="bikers")
    tuned = cli("tune", "bikeshare", "--trials", "2", "--space", space_file(tmp_path), "--json")
    assert tuned.code == 0, tuned.stderr

    doc = cli("evaluate", "bikeshare:1", "bikeshare", "--json").json
    assert doc["max_slice_gap"] is not None
    assert doc["slice_metric"] == "wape"  # bikers is a big count: WAPE (details.slice_metric)
    feature = doc["max_slice_gap_feature"]
    human = cli("evaluate", "bikeshare:1", "bikeshare")
    assert human.code == 0, human.stderr
    line = next(x for x in human.stdout.splitlines() if x.startswith("largest slice gap"))
    gap = line.split()[3]
    assert line == (f"largest slice gap: {gap} in wape between the groups of {feature}: "
                    f"{doc['max_slice_gap_best']} (best) vs {doc['max_slice_gap_worst']} (worst)")
