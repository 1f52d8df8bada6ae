"""The one path from a domain result to `--json`: field names and order are the JSON keys."""

from __future__ import annotations

import json
from dataclasses import KW_ONLY, FrozenInstanceError, dataclass
from pathlib import Path

import pytest

from mlops_tui.cli._common import emit
from mlops_tui.results import Result, omitted_if_none


@dataclass(frozen=True)
class Edge(Result):
    from_: str
    to: str


@dataclass(frozen=True)
class Column(Result):
    name: str
    _: KW_ONLY
    mean: float | None = omitted_if_none()
    status: str


@dataclass(frozen=True)
class Report(Result):
    path: Path
    edges: tuple[Edge, ...]
    columns: dict[str, Column]


def test_to_json_keeps_field_order_nests_results_and_writes_python_keywords_plainly():
    report = Report(Path("/tmp/r.html"), (Edge("a", "b"),),
                    {"x": Column("x", mean=1.5, status="ok"), "y": Column("y", status="warn")})
    assert report.to_json() == {
        "path": "/tmp/r.html", "edges": [{"from": "a", "to": "b"}],
        "columns": {"x": {"name": "x", "mean": 1.5, "status": "ok"}, "y": {"name": "y", "status": "warn"}},
    }
    assert list(report.to_json()["columns"]["x"]) == ["name", "mean", "status"]


def test_emit_prints_a_result_as_its_json(capsys):
    emit([Edge("a", "b")], True, lambda: None)
    assert json.loads(capsys.readouterr().out) == [{"from": "a", "to": "b"}]


def test_results_are_frozen():
    with pytest.raises(FrozenInstanceError):
        Edge("a", "b").to = "c"  # type: ignore[misc]
