"""Is a process alive on this host: the one liveness test of the tuning and scoring sweeps.

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
