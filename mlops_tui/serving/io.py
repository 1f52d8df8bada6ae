"""Scoring's input and output plumbing: find the files, check them against the signature before a
single row is scored, read them in batches, and write the output atomically.

Why checks come first: a job that fails after writing half its output wastes the run and, worse,
tempts people to use the half. Every schema problem of every input file is collected into ONE
message (missing features, text in numeric columns with an example value, unusable types), so a
user fixes the file once instead of once per error. The only full-data check (text hiding in a
numeric column that arrived as strings) runs as a lazy, streaming Polars query over just those
columns, so it costs memory for one batch, not one file.

A CSV is read the way ``dataset add`` reads it (:mod:`mlops_tui.data.readers`: delimiter sniffed among
``, ; TAB |``, header inferred, decimal commas in non-comma files, the usual null spellings, UTF-8
only), so a file that validates against a dataset version scores too. What that module judges
from a file's start is checked before scoring; what Polars meets later in the file (text that is
not UTF-8, a value that does not parse as its column's type) fails the job with the same one-line
error. Ragged rows (more or fewer fields than the header) are counted by one csv-module pass over each
CSV (:func:`ragged_rows`), which runs beside the pipeline with the input hashing: a few are scored
(the missing fields as missing, the extra ones dropped) and named in the job's warnings; past
``RAGGED_MAX`` in a file the job is refused, before its output is committed.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from mlops_tui.data import readers
from mlops_tui.errors import UserError
from mlops_tui.serving.batch import check_schema
from mlops_tui.serving.sweep import JOB_ID_KEY, temp_path
from mlops_tui.training.signature import text_number

if TYPE_CHECKING:
    import pyarrow as pa

    from mlops_tui.training.signature import Signature

ROW_GROUP_PREFETCH = 1
ROW_GROUP_BYTES = 64 << 20  # row groups up to this size (decoded) are read by Polars, a whole one at a time
COMPRESSION = "snappy"  # of the Parquet output (bench/score_throughput.py's naive loop writes with it too)
RAGGED_MAX = 10  # ragged rows a CSV input may have before its job is refused
_ID_RE = re.compile(r"(^|[_\-\s.])id$|^.*[a-z]Id$|^.*ID$")


@dataclass(frozen=True)
class InputFile:
    path: Path
    kind: str  # csv | parquet
    schema: dict[str, pl.DataType]
    rows: int | None  # known up front for Parquet (footer), unknown for CSV
    fmt: readers.CsvFormat | None = None  # how a CSV is written (delimiter, header, ...)

    def scan(self, overrides: dict[str, pl.DataType] | None = None) -> pl.LazyFrame:
        if self.kind == "parquet":
            return pl.scan_parquet(self.path)
        assert self.fmt is not None
        # The schema found once (open_inputs), so no scan infers it again.
        return readers.scan_csv(self.path, self.fmt, schema={**self.schema, **(overrides or {})}, ragged=True)


@dataclass
class Plan:
    """What a job will read: files, the columns to take from each, and what was found up front."""

    files: list[InputFile]
    feature_columns: list[str]
    id_columns: list[str]
    csv_overrides: dict[str, pl.DataType] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys([*self.id_columns, *self.feature_columns]))

    @property
    def total_rows(self) -> int | None:
        counts = [f.rows for f in self.files]
        return None if any(c is None for c in counts) else sum(c for c in counts if c is not None)


def _kind(path: Path) -> str:
    kind = readers.kind_of(path)
    if kind is None:
        raise UserError(f"{path}: unsupported input type (use .csv or .parquet)")
    return kind


def expand_inputs(patterns: list[str]) -> list[Path]:
    """Files and globs → existing files, in the order given (each glob sorted), no duplicates."""
    if not patterns:
        raise UserError("no input files given")
    found: list[Path] = []
    for pattern in patterns:
        expanded = os.path.expanduser(pattern)
        if glob.has_magic(expanded):
            matches = sorted(glob.glob(expanded, recursive=True))
            if not matches:
                raise UserError(f"no files match {pattern!r}")
            found.extend(Path(m) for m in matches if Path(m).is_file())
        else:
            p = Path(expanded)
            if not p.is_file():
                raise UserError(f"input file {pattern} does not exist")
            found.append(p)
    return list(dict.fromkeys(p.resolve() for p in found))


def open_inputs(paths: list[Path]) -> list[InputFile]:
    files = []
    for p in paths:
        kind = _kind(p)
        if kind == "csv":
            fmt = readers.sniff_csv(p)  # UserError naming the file: encoding, binary, names, ...
            schema = dict(readers.scan_csv(p, fmt).collect_schema())
            files.append(InputFile(p, kind, schema, None, fmt))
            continue
        try:
            lf = pl.scan_parquet(p)
            schema = dict(lf.collect_schema())
            rows = int(lf.select(pl.len()).collect().item())  # from the footer, no data read
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise UserError(f"cannot read {p}: {str(exc).splitlines()[0]}") from exc
        files.append(InputFile(p, kind, schema, rows))
    return files


def is_id_like(name: str) -> bool:
    """`id`, `customer_id`, `row-id`, `customerId`, `ID`: columns worth carrying into the output."""
    return bool(_ID_RE.search(name)) or name.lower() == "id"


def _first_text(f: InputFile, boolean: list[str], column: str,
                overrides: dict[str, pl.DataType]) -> tuple[bool, str | None]:
    """(has any value, first value that is not a number) of a text column (streaming, one column);
    in a ``boolean`` column (a feature learnt from true/false) true/false text in any case is one too.

    A CSV column with no value at all also arrives as text: that is an all-null column (warned
    about after scoring), not numbers that needed coercing.
    """
    v = pl.col(column).str.strip_chars()
    present = v.is_not_null() & (v != "")
    try:
        found = (f.scan(overrides).select(
            present.any().alias("any"),
            v.filter(present & text_number(v, boolean=column in boolean).is_null()).first().alias("bad"),
        ).collect(engine="streaming"))
    except pl.exceptions.PolarsError as exc:
        raise _read_error(f, exc) from exc
    return bool(found["any"][0]), found["bad"][0]


def _booleans_for_numbers(schema: dict[str, pl.DataType], sig: Signature, where: str) -> list[str]:
    """A true/false column where the model learnt numbers is read as 1/0: say so (a request's JSON
    true/false is judged by the service itself, serving.checks)."""
    return [f"column {f.source!r}{where} is true/false but the model learnt numbers: read as 1/0"
            for f in sig.features if f.plain_number and schema.get(f.source) == pl.Boolean and f.dtype != "Boolean"]


def plan(files: list[InputFile], sig: Signature, model_ref: str, keep: list[str] | None = None,
         kept_by: str | None = None) -> Plan:
    """Check every file against the signature (:func:`batch.check_schema`) and ``keep`` (input
    columns to carry into the output; ``kept_by``: the deployment that remembered them, when the
    command gave no --keep); raise ONE UserError listing every problem."""
    problems: list[str] = []
    keep_problems = _keep_problems(keep or [], sig)
    warnings: list[str] = []
    many = len(files) > 1
    overrides: dict[str, pl.DataType] = {}
    for f in files:
        if f.fmt is not None:
            warnings.extend(f.fmt.warnings)  # what the reader guessed: no header, unnamed columns
        where = f" in {f.path.name}" if many else ""
        found = check_schema(f.schema, sig, text_probe=functools.partial(_first_text, f, sig.boolean_columns), where=where,
                             csv=f.kind == "csv")
        if found.problems and found.problems[0].startswith("missing") and f.fmt is not None and not f.fmt.header:
            found.problems[0] += f" ({f.path.name} was read without a header row: its first row has numbers)"
        problems += found.problems
        warnings += found.warnings + _booleans_for_numbers(f.schema, sig, where)
        overrides.update(found.overrides)
        absent = [c for c in keep or [] if c not in f.schema]
        if absent and kept_by:
            keep_problems.append(f"deployment {kept_by} keeps column(s) {', '.join(map(repr, absent))} (an earlier "
                                 f"--keep) but {f.path.name} has none (its columns: {_shown(list(f.schema))}); "
                                 "--keep COLS changes them, --keep '' forgets them")
        elif absent:
            keep_problems.append(f"--keep column(s) {', '.join(map(repr, absent))} not in {f.path.name} "
                                 f"(its columns: {_shown(list(f.schema))})")
    if problems:  # named by file: each problem of several files, the one file's path up front
        subject = "input" if many else f"{files[0].path}: input"
        raise UserError("; ".join([f"{subject} does not match {model_ref}'s signature: " + "; ".join(problems),
                                   *keep_problems]))
    if keep_problems:
        raise UserError("; ".join(keep_problems))
    sources = sig.source_columns
    present = set.intersection(*(set(f.schema) for f in files))
    ids = id_columns(list(files[0].schema), present, sig)
    if not ids and (lost := [c for c in sig.id_columns if c not in present]):
        # AER NMES1988 scored without its row_id: nothing said that feedback could never join labels to them
        warnings.append(f"the input has no id column {', '.join(map(repr, lost))} ({model_ref}'s data had "
                        f"{'it' if len(lost) == 1 else 'them'}): the output rows carry no key for `feedback` to "
                        "join labels on")
    ids += [c for c in keep or [] if c not in ids]
    ignored = unused_columns([c for f in files for c in f.schema], sig, ids)
    if ignored:
        warnings.append(ignored)
    return Plan(files, sources, ids, overrides, warnings)


def id_columns(names: list[str], present: set[str], sig: Signature) -> list[str]:
    """Columns carried into the output: the signature's id columns, then any id-like column."""
    ids = [c for c in sig.id_columns if c in present]
    return ids + [c for c in names if c in present and c not in ids and is_id_like(c)]


def unused_columns(names: list[str], sig: Signature, ids: list[str]) -> str | None:
    """The warning naming the input columns the model does not use (None when there are none)."""
    used = {*sig.source_columns, *ids, sig.target}  # a labelled file carrying the target is no surprise
    ignored = list(dict.fromkeys(c for c in names if c not in used))
    return f"{len(ignored)} column(s) the model does not use were ignored: {_shown(ignored)}" if ignored else None


def output_columns(sig: Signature) -> list[str]:
    """The columns scoring adds to the kept input columns (see :func:`batch.output_table`)."""
    preds = ["prediction"] + ([f"proba_{c}" for c in sig.classes] if sig.task != "regression" else [])
    return [*preds, "model_name", "model_version", "scored_at"]


def _keep_problems(keep: list[str], sig: Signature) -> list[str]:
    clash = [c for c in keep if c in output_columns(sig)]
    return [f"--keep column(s) {', '.join(map(repr, clash))} would clash with the output's own "
            f"column(s) of that name; rename them in the input first"] if clash else []


def _shown(names: list[str], most: int = 10) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def batches(p: Plan, chunk_size: int) -> Iterator[pl.DataFrame]:
    """The needed columns of every file, ``chunk_size`` rows at a time, streaming."""
    for f in p.files:
        yield from file_batches(p, f, chunk_size)


def file_batches(p: Plan, f: InputFile, chunk_size: int, offset: int = 0,
                 rows: int | None = None) -> Iterator[pl.DataFrame]:
    """The needed columns of ``f`` (only its rows ``offset`` .. ``offset + rows`` when ``rows`` is
    given: one partition of a Dask job), ``chunk_size`` rows at a time, streaming."""
    # Polars prefetches many Parquet row groups ahead of a slow consumer (predict is ~30x slower
    # than decoding), so peak memory grew with file size; one row group keeps the reader ahead of
    # LightGBM and memory flat (bench/score_throughput.py, 100k-row groups, peak RssAnon 8M / 1M
    # rows: prefetch 2: 1.17-1.18, 1: 1.12). A user's own setting wins.
    os.environ.setdefault("POLARS_ROW_GROUP_PREFETCH_SIZE", str(ROW_GROUP_PREFETCH))
    if f.kind == "parquet" and rows is None and _largest_row_group(f) > ROW_GROUP_BYTES:
        yield from _parquet_batches(f, p.columns, chunk_size)
        return
    lf = f.scan(p.csv_overrides if f.kind == "csv" else None).select(p.columns)
    if rows is not None:
        lf = lf.slice(offset, rows)
    try:
        yield from lf.collect_batches(chunk_size=chunk_size)
    except pl.exceptions.PolarsError as exc:
        raise _read_error(f, exc) from exc


def _largest_row_group(f: InputFile) -> int:
    """Bytes of ``f``'s largest row group, decoded (from the footer; 0 when it cannot be read:
    Polars then names the problem)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(f.path)
    except (pa.ArrowException, OSError):
        return 0
    return max((meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)), default=0)


def _parquet_batches(f: InputFile, columns: list[str], chunk_size: int) -> Iterator[pl.DataFrame]:
    """A Parquet file with a row group too big to hold (over ``ROW_GROUP_BYTES``) through pyarrow,
    page by page: Polars decodes a whole row group before it yields a batch, so a file written as
    ONE row group (8M rows: 2.5 GB) was held whole. Unbuffered column chunks + a 1 MiB read buffer
    keep this reader flat (8M x 20 floats, one row group: Polars 2,572 MB peak RssAnon, this 181 MB).
    Smaller row groups (Polars writes 100k rows each) stay with Polars: flat too (the bench's peak
    RssAnon 8M / 1M rows: 1.12), and its decoder took half the CPU of pyarrow's (0.3 vs 0.6 CPU-s
    for 1M rows x 20 floats in a job)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(f.path, pre_buffer=False, buffer_size=1 << 20)
        for rb in reader.iter_batches(batch_size=chunk_size, columns=columns):
            yield pl.from_arrow(rb)  # type: ignore[misc]
    except (pa.ArrowException, OSError) as exc:
        raise _read_error(f, exc) from exc


def lean_arrow_allocator() -> None:
    """Make jemalloc (else the system allocator) Arrow's default pool for this process, unless the
    user chose one (``ARROW_DEFAULT_MEMORY_POOL``).

    Arrow's default, mimalloc, backs its memory with transparent huge pages here and hands them back
    between batches, so the decode buffers of every batch were faulted in again, each fault zeroing
    2 MiB: 7 % of a 1M-row job's CPU in ``clear_page_erms`` (perf), ~0.5 CPU-s in sys time. With
    jemalloc a job's sys time fell from 0.8 to 0.3 s. Buffers already allocated keep their pool.
    """
    import pyarrow as pa

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL") or pa.default_memory_pool().backend_name != "mimalloc":
        return
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:  # a pyarrow built without jemalloc
        pa.set_memory_pool(pa.system_memory_pool())


def _read_error(f: InputFile, exc: BaseException) -> UserError:
    """A file that failed while being read (perhaps far into it) → one line naming it."""
    if f.kind == "csv":
        error = readers.read_error(f.path, exc)
        if "could not parse" in str(error):  # only a value past the rows types came from fails so
            return UserError(f"{error}: a value past the first {readers.INFER_ROWS:,} rows, "
                             f"which the column's type was inferred from")
        return error
    return UserError(f"cannot read {f.path}: {readers.first_line(exc)}")


def ragged_rows(files: list[InputFile]) -> tuple[list[str], list[str]]:
    """(problems, warnings) about the CSV inputs' ragged rows: counted, the first line named, and a
    problem past ``RAGGED_MAX`` in a file."""
    problems, warnings = [], []
    for f in files:
        if f.fmt is None:
            continue
        found = readers.row_widths(f.path, f.fmt.delimiter, f.fmt.header)
        if found.ragged > RAGGED_MAX:
            problems.append(f"{found.describe(f.path)}; more than {RAGGED_MAX} ragged rows: refused "
                            f"(fix the file, e.g. a delimiter or quote inside a value)")
        elif found.ragged:
            warnings.append(f"{found.describe(f.path)}: scored with missing fields as missing, extra ones dropped")
    return problems, warnings


def sha256_files(paths: list[Path]) -> list[str]:
    out = []
    for path in paths:
        with open(path, "rb") as fh:  # file_digest reuses one buffer: ~10 % less CPU than read() (bench files)
            out.append(hashlib.file_digest(fh, "sha256").hexdigest())
    return out


class AtomicParquet:
    """A Parquet file that appears at ``path`` only when complete (temp file + rename).

    The temp file sits beside the target (same filesystem, so the rename is atomic) under a
    hidden name; a failed job deletes it, and a job killed with SIGKILL leaves at most that
    hidden file, never a partial output and never a clobbered earlier output. The footer
    carries the job id (:data:`JOB_ID_KEY`), so a file found at ``path`` tells which job put it
    there (:func:`mlops_tui.serving.sweep.sweep_jobs` relies on it).
    """

    def __init__(self, path: Path, job_id: str) -> None:
        self.path = path
        self.job_id = job_id
        self.tmp = temp_path(path, job_id)
        self._writer: Any = None
        self._schema: pa.Schema | None = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._schema = table.schema
            self._writer = self._open(table.schema)
        elif table.schema != self._schema:
            table = table.cast(self._schema)
        self._writer.write_table(table)

    def _open(self, schema: pa.Schema) -> Any:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = schema.with_metadata({JOB_ID_KEY: self.job_id})
        # Numbers (predictions, probabilities, ids) are nearly all distinct: a dictionary would be
        # built for every row group, overflow and be thrown away (2/3 of the writer's CPU time).
        dictionary = [f.name for f in schema if not (pa.types.is_floating(f.type) or pa.types.is_integer(f.type))]
        return pq.ParquetWriter(self.tmp, schema, compression=COMPRESSION, use_dictionary=dictionary)

    def close(self) -> None:
        """Finish the temp file and sync it to disk; it is not in place yet (:meth:`commit`)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        with open(self.tmp, "rb+") as fh:
            os.fsync(fh.fileno())

    def commit(self) -> None:
        """Move the closed file into place: one atomic rename."""
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):  # the file is deleted next anyway
                self._writer.close()
            self._writer = None
        self.tmp.unlink(missing_ok=True)


class AtomicCsv(AtomicParquet):
    """A CSV file (header, then each batch as it is scored: constant memory) that appears at
    ``path`` only when complete, by :class:`AtomicParquet`'s temp file, sync and rename. CSV has no
    footer for the job id: a job killed between that rename and its last status write is settled
    as failed by the sweep, its complete output left in place."""

    def _open(self, schema: pa.Schema) -> Any:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        nested = [f.name for f in schema if pa.types.is_nested(f.type)]
        if nested:  # a kept list or struct column
            raise UserError(f"--output {self.path.name}: CSV cannot hold the nested column(s) "
                            f"{', '.join(nested)}; write .parquet")
        return pacsv.CSVWriter(self.tmp, schema)


OUTPUT_WRITERS = {".parquet": AtomicParquet, ".csv": AtomicCsv}


def output_writer(path: Path, engine: str) -> type[AtomicParquet]:
    """The writer ``--output``'s suffix asks for; one UserError line for any other suffix, and for
    .csv with Dask (a Dask job writes a folder of Parquet parts, :mod:`~mlops_tui.serving.dask_engine`)."""
    suffix = path.suffix.lower()
    if engine == "dask" and suffix != ".parquet":
        raise UserError(f"--output {path}: --engine dask writes a folder of Parquet part files; name it .parquet")
    if suffix not in OUTPUT_WRITERS:
        raise UserError(f"--output {path}: unsupported output type {suffix or '(no suffix)'}; "
                        f"name it .parquet or .csv")
    return OUTPUT_WRITERS[suffix]
