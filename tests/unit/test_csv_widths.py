"""The ragged-rows check of `dataset add` and `score` (readers.row_widths) counts a file without
quotes with numpy (data.csv_widths), and must find exactly what the csv module's pass finds."""

from __future__ import annotations

import gzip

import pytest

from mlops_tui.data import csv_widths, readers
from mlops_tui.errors import UserError

CASES = {
    "clean": "a,b,c\n1,2,3\n4,5,6\n",
    "short and long rows": "a,b,c\n1,2,3\n4,5\n6,7,8,9\n1,2\n",
    "no newline at the end": "a,b,c\n1,2,3\n4,5",
    "blank and space-only lines": "\n  \na,b,c\n\n1,2,3\n \t \n4,5\n\n",
    "windows line ends": "a,b,c\r\n1,2,3\r\n\r\n4,5\r\n",
    "byte order mark": "\ufeffa,b,c\n1,2,3\n4,5,6,7\n",
    "unicode text and a no-break-space line": "a,b\nété,1\n\u00a0\u2003\nnaïve\n",
    "tabs": "a\tb\tc\n1\t2\t3\n4\t5\n",
    "one column": "x\n" + "".join("\n" if i % 7 == 0 else f"{i}\n" for i in range(3_000)) + "1,2\n",
    "only a header": "a,b,c\n",
    "empty": "",
}


def _csv_module(path, delimiter, header, stop_at_first, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(csv_widths, "count", lambda *a, **k: False)
        return readers.row_widths(path, delimiter, header, stop_at_first=stop_at_first)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("stop_at_first", [False, True])
@pytest.mark.parametrize("block", [csv_widths.BLOCK, 7])
def test_numpy_counts_what_the_csv_module_counts(tmp_path, monkeypatch, name, header, stop_at_first, block):
    path = tmp_path / "in.csv"
    path.write_text(CASES[name], encoding="utf-8")
    delimiter = "\t" if name == "tabs" else ","
    expected = _csv_module(path, delimiter, header, stop_at_first, monkeypatch)
    monkeypatch.setattr(csv_widths, "BLOCK", block)  # 7 bytes: lines cut across blocks
    fast = readers.RowWidths()
    assert csv_widths.count(lambda: path.open("rb"), delimiter, header, fast, stop_at_first=stop_at_first)
    assert fast == expected


def test_a_gzipped_file_is_counted_too(tmp_path, monkeypatch):
    path = tmp_path / "in.csv.gz"
    path.write_bytes(gzip.compress(CASES["short and long rows"].encode()))
    assert readers.row_widths(path, ",", True) == _csv_module(path, ",", True, False, monkeypatch)
    assert readers.row_widths(path, ",", True).short == 2


@pytest.mark.parametrize("text", ['a,b\n1,"x,y"\n2,3\n', "a,b\n1,2\r3,4\n", "a,b\n" + "1," + "x" * 200_000 + "\n"])
def test_quotes_lone_carriage_returns_and_huge_fields_are_left_to_the_csv_module(tmp_path, text):
    path = tmp_path / "in.csv"
    path.write_text(text)
    assert not csv_widths.count(lambda: path.open("rb"), ",", True, readers.RowWidths())


def test_text_that_is_not_utf8_is_refused_with_its_line_as_before(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"a,b\n1,2\n3,caf\xe9\n")
    with pytest.raises(UserError, match=r"not UTF-8 text at line 3 \(byte 13\) \(0xe9\)"):
        readers.row_widths(path, ",", True)
