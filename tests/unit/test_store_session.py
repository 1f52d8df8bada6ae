"""store.session: several calls of one thread on one open of the file (the TUI's screen reads)."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest
from mlops_tui.store import Store, _db, session


@pytest.fixture
def opened(monkeypatch):
    """Every open of a store file, in order."""
    calls: list[str] = []
    real = _db._open

    def open_(path, *args, **kwargs):
        calls.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(_db, "_open", open_)
    return calls


def run_kwargs(run_id: str) -> dict:
    return dict(run_id=run_id, name="r", dataset="d", dataset_version=1, target="y", task="binary",
                metric="roc_auc", direction="maximize", seed=0, config={})


def test_calls_inside_a_session_open_the_file_once_schema_check_included(tmp_path, opened):
    path = tmp_path / "store.duckdb"
    Store.open(path)
    opened.clear()
    with session(path):
        st = Store.open(path, create=False)
        st.audit.record("test", "thing:1", "ok")
        events = st.audit.events()
        st.datasets.latest()
    assert len(opened) == 1
    assert [e.object for e in events] == ["thing:1"]
    st.audit.events()  # outside the block: a call opens the file again
    assert len(opened) == 2


def test_a_failed_write_inside_a_session_rolls_back_alone(tmp_path):
    st = Store.open(tmp_path / "store.duckdb")
    with session(st.path):
        st.runs.create(**run_kwargs("a"))
        with pytest.raises(duckdb.ConstraintException):
            st.runs.create(**run_kwargs("a"))  # same id: refused, its transaction rolled back
        st.runs.create(**run_kwargs("b"))
    assert sorted(r.run_id for r in st.runs.list()) == ["a", "b"]


def test_nested_sessions_share_the_outer_one_and_the_file_is_free_after(tmp_path, opened):
    st = Store.open(tmp_path / "store.duckdb")
    opened.clear()
    with session(st.path):
        with session(st.path):
            st.audit.record("inner", "x", "ok")
        st.audit.record("outer", "x", "ok")
    assert len(opened) == 1
    # Another process can open the file as soon as the block ends.
    code = f"import duckdb; print(duckdb.connect({str(st.path)!r}).execute('select count(*) from audit_events').fetchall()[0][0])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "2", out.stderr
