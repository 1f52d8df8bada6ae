"""Is a process alive on this host: the one liveness test of the tuning and scoring sweeps. And
how a process of ours ends quickly.

A run or a scoring job records the pid and host of its process; a sweep fails the ones whose
process died (kill -9, the OOM killer) so nothing shows as running forever.
"""

from __future__ import annotations


def alive(pid: int | None) -> bool:
    """Is ``pid`` a live (not zombie) process on this host?"""
    import psutil

    if not pid:
        return False
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def exit_without_last_collection() -> None:
    """Spare this process Python's final garbage collections at exit.

    When the interpreter finalises, it runs the cyclic garbage collector over every object still
    alive; after scikit-learn, SciPy and pandas are imported (LightGBM imports them) that took 0.6 to
    1.2 s per exit on the loaded 2-core machine, against 0.1 s with the objects frozen (measured:
    a process importing lightgbm, sklearn.metrics, optuna, polars, duckdb and scipy.stats, from its
    last line to its end as its parent saw it). Every `mlops-tui` command that trained, scored or
    evaluated, and every tuning worker (whose supervisor waits for it), paid that. Frozen objects
    are still freed by reference counting and atexit handlers (logging's flush) and the flush of
    stdout/stderr still run; only garbage in reference cycles is left to the OS, which reclaims
    the whole process anyway. Call it when the process's work is done, just before it exits."""
    import gc

    gc.freeze()
