"""The sha256 of the files pipelines read, remembered per (path, size, mtime_ns) as dvc does.

A stage's fingerprint holds the sha256 of every file it reads, and `pipeline run` / `pipeline status`
fingerprint every stage: without a cache a multi-GB input would be read in full each time although
nothing changed. Each hash is kept with the file's size and modification time (ns) in
``<workspace>/pipeline-hashes.json`` and reused while both are unchanged. As with dvc, a rewrite
that keeps the size and puts the old mtime back is not noticed (``--force`` the stage, or ``touch``
the file). The file is only a cache: written atomically, rebuilt by hashing when lost or unreadable.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

FILE_NAME = "pipeline-hashes.json"


class FileHashes:
    """A workspace's cache of file hashes; :meth:`save` writes back what :meth:`sha256` computed."""

    def __init__(self, root: Path) -> None:
        self.path = root / FILE_NAME
        try:
            loaded = json.loads(self.path.read_text())
        except (OSError, ValueError):
            loaded = {}
        self._entries: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
        self._changed = False

    def sha256(self, path: str) -> str | None:
        """The file's sha256, read only when its size or mtime changed; None when it cannot be read."""
        key = os.path.realpath(path)
        try:
            st = os.stat(key)  # before reading: a file changed while hashed is hashed again next time
            known = self._entries.get(key)
            stamp = (st.st_size, st.st_mtime_ns)
            if isinstance(known, dict) and (known.get("size"), known.get("mtime_ns")) == stamp and known.get("sha256"):
                return str(known["sha256"])
            with open(key, "rb") as fh:
                digest = hashlib.file_digest(fh, "sha256").hexdigest()
        except OSError:
            return None
        self._entries[key] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        self._changed = True
        return digest

    def save(self) -> None:
        """Write the cache back when a file was hashed (temp file + rename); files gone are dropped.
        A cache that cannot be written only costs a hash next time."""
        if not self._changed or not self.path.parent.is_dir():
            return
        entries = {k: v for k, v in self._entries.items() if os.path.exists(k)}
        tmp = self.path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(entries, sort_keys=True))
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
        self._changed = False
