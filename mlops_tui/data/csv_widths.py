"""Counting a CSV file's fields per row with numpy, for files where a line is a row.

`dataset add` and `score` check every row of a CSV file for the header's width (readers.row_widths):
Polars reads a short row with its missing fields as missing, silently. The ``csv`` module does that
check at ~0.5 million rows/s: 20 s of a 10-million-row file, a quarter of `dataset add` and nearly
half of `score`. Without a quote character, a line is a row and its fields are its delimiters + 1:
numpy counts them for a block of lines at once (bench/csv_rows.py).

:func:`count` answers only for such files: it returns False as soon as it meets what only the ``csv``
module reads right (a quote, a NUL byte, a CR not ending a line, a line longer than the ``csv``
module's field limit) or text that is not UTF-8 (whose error message the ``csv`` pass gives).
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import io
    from collections.abc import Callable

    import numpy as np

BLOCK = 4 << 20  # bytes read at a time (then cut after the block's last newline)
FEW_SINGLE = 1_000  # lines without a delimiter in a block that are checked one by one
# ASCII whitespace: a line of these alone is blank, as str.strip() says for the csv module's record.
SPACE_BYTES = (9, 10, 11, 12, 13, 28, 29, 30, 31, 32)


@functools.cache
def _tables() -> tuple[np.ndarray, np.ndarray]:
    """(byte is whitespace, byte is an ASCII character other than whitespace), indexed by byte."""
    import numpy as np

    space = np.zeros(256, dtype=bool)
    space[list(SPACE_BYTES)] = True
    ink = np.zeros(256, dtype=bool)
    ink[:128] = ~space[:128]
    return space, ink


@dataclass
class Widths:
    """What one pass over a CSV's rows found: the header's width and the rows that differ from it
    (readers.RowWidths adds how to say it)."""

    width: int | None = None
    rows: int = 0  # data rows (blank lines skipped)
    short: int = 0  # rows with fewer fields than the first row
    long: int = 0  # rows with more
    first_line: int | None = None  # line number of the first ragged row
    first_fields: int | None = None  # its number of fields


def count(open_bytes: Callable[[], io.BufferedIOBase], delimiter: str, header: bool, found: Widths, *,
          stop_at_first: bool = False) -> bool:
    """Count into ``found`` the file's rows and those whose field count differs from the first
    non-blank line's, blank lines skipped and lines numbered as the ``csv`` module does. False: not
    such a file (``found`` then holds a part: discard it)."""
    if len(delimiter.encode()) != 1:
        return False
    delim = delimiter.encode()[0]
    lines_before = 0  # physical lines in the blocks already counted
    carry = b""
    with open_bytes() as fh:
        while True:
            block = fh.read(BLOCK)
            data = carry + block
            if block:
                cut = data.rfind(b"\n") + 1
                data, carry = data[:cut], data[cut:]
                if not data:
                    continue
            elif not data:
                return True
            lines = _block(data, delim, header, found, lines_before, stop_at_first)
            if lines is None:
                return False
            if (found.first_line is not None and stop_at_first) or not block:
                return True
            lines_before += lines


def _block(data: bytes, delim: int, header: bool, found: Widths, lines_before: int,
           stop_at_first: bool) -> int | None:
    """Count one block of whole lines into ``found``; returns its number of lines (None: give up)."""
    import numpy as np

    if b'"' in data or b"\x00" in data or (b"\r" in data and data.count(b"\r") != data.count(b"\r\n")):
        return None
    arr = np.frombuffer(data, dtype=np.uint8)
    if arr.max() >= 128:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    ends = np.flatnonzero(arr == 10)
    if not data.endswith(b"\n"):  # the file's last line, without a newline
        ends = np.append(ends, len(arr))
    starts = np.concatenate(([0], ends[:-1] + 1))
    if (ends - starts).max() > csv.field_size_limit():
        return None
    # Delimiters before each line's end; a line's fields are the difference from the previous line's + 1.
    before = np.searchsorted(np.flatnonzero(arr == delim), ends)
    fields = np.diff(before, prepend=0) + 1
    blank = fields == 1  # a line without a delimiter is blank when it holds whitespace only
    single = np.flatnonzero(blank)
    if single.size > FEW_SINGLE:  # a one-column file: ASCII whitespace counted per line at once
        space, ascii_ink = _tables()
        ink = np.concatenate(([0], np.cumsum(ascii_ink[arr], dtype=np.int32)))
        other = np.concatenate(([0], np.cumsum(~space[arr], dtype=np.int32)))
        has_ink = (ink[ends[single]] - ink[starts[single]]) > 0
        has_other = (other[ends[single]] - other[starts[single]]) > 0
        blank[single] = ~has_ink & ~has_other
        single = single[~has_ink & has_other]  # non-ASCII characters only: Unicode says if they are space
    for i in single:
        blank[i] = not data[starts[i]:ends[i]].decode("utf-8").strip()
    rows = np.flatnonzero(~blank)
    if found.width is None and rows.size:
        found.width = int(fields[rows[0]])
        if header:
            rows = rows[1:]
    if found.width is None or not rows.size:
        return len(ends)
    widths = fields[rows]
    short, long = widths < found.width, widths > found.width
    ragged = short | long
    if found.first_line is None and ragged.any():
        first = int(np.argmax(ragged))
        found.first_line, found.first_fields = lines_before + int(rows[first]) + 1, int(widths[first])
        if stop_at_first:  # as the csv pass stops: rows up to the first ragged one
            found.rows += first
            found.short, found.long = int(short[first]), int(long[first])
            return len(ends)
    found.rows += int(rows.size)
    found.short += int(short.sum())
    found.long += int(long.sum())
    return len(ends)
