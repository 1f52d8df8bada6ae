"""The model registry (versions, aliases with history) and batch-scoring deployments."""

from __future__ import annotations

import builtins  # the areas' list() methods shadow the builtin in annotations below them
from typing import Any

from mlops_tui.store._area import Area, dumps, loads, utcnow
from mlops_tui.store._db import NotFoundError
from mlops_tui.store.records import AliasChange, Deployment, ModelVersion

_MODEL_SELECT = """
    SELECT m.*, coalesce((SELECT list(a.alias ORDER BY a.alias) FROM model_aliases a
                          WHERE a.name = m.name AND a.version = m.version), []) AS aliases
    FROM models m
"""


def _model(row: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=row["name"], version=row["version"], run_id=row["run_id"], path=row["path"],
        sha256=row["sha256"], task=row["task"], dataset=row["dataset"],
        dataset_version=row["dataset_version"], metrics=loads(row["metrics_json"]),
        signature=loads(row["signature_json"], {}), created_at=row["created_at"],
        aliases=tuple(row["aliases"] or ()),
    )


def _deployment(row: dict[str, Any]) -> Deployment:
    return Deployment(
        name=row["name"], model_name=row["model_name"], model_version=row["model_version"],
        signature=loads(row["signature_json"], {}), output_dir=row["output_dir"],
        forced=row["forced"], gate=loads(row["gate_json"]), created_at=row["created_at"],
        updated_at=row["updated_at"], engine=row["engine"] or "local", engine_info=loads(row["engine_json"]),
        follows=row.get("follows"),
        keep=tuple(loads(row.get("keep_json"), [])),
    )


class Models(Area):
    # -- versions -----------------------------------------------------------------------------
    def register(
        self, *, name: str, path: str, sha256: str, task: str, signature: dict[str, Any],
        run_id: str | None = None, dataset: str | None = None, dataset_version: int | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Add the next version of model ``name`` (numbered inside the transaction)."""
        with self._write() as con:
            (version,) = con.execute(
                "SELECT coalesce(max(version), 0) + 1 FROM models WHERE name = ?", [name]
            ).fetchone() or (1,)
            con.execute(
                "INSERT INTO models (name, version, run_id, path, sha256, task, dataset, dataset_version,"
                " metrics_json, signature_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [name, version, run_id, path, sha256, task, dataset, dataset_version,
                 dumps(metrics), dumps(signature), utcnow()],
            )
            # Read back on the same connection: a second open of the file costs another attach and checkpoint.
            rows = self._rows(con, _MODEL_SELECT + " WHERE m.name = ? AND m.version = ?", [name, version])
        return _model(rows[0])

    def get(self, name: str, version: int | None = None) -> ModelVersion:
        """A version, or the latest when ``version`` is None."""
        with self._read() as con:
            if version is None:
                rows = self._rows(con, _MODEL_SELECT + " WHERE m.name = ? ORDER BY m.version DESC LIMIT 1", [name])
            else:
                rows = self._rows(con, _MODEL_SELECT + " WHERE m.name = ? AND m.version = ?", [name, version])
        if not rows:
            raise NotFoundError(f"unknown model {name!r}" if version is None else f"unknown model version {name}:{version}")
        return _model(rows[0])

    def by_alias(self, name: str, alias: str) -> ModelVersion:
        with self._read() as con:
            row = con.execute(
                "SELECT version FROM model_aliases WHERE name = ? AND alias = ?", [name, alias]
            ).fetchone()
        if row is None:
            raise NotFoundError(f"model {name!r} has no alias {alias!r}")
        return self.get(name, row[0])

    def list(self, name: str | None = None) -> list[ModelVersion]:
        """All versions (of one model if ``name``), newest first within each name."""
        sql = _MODEL_SELECT
        params: builtins.list[Any] = []
        if name:
            sql += " WHERE m.name = ?"
            params.append(name)
        with self._read() as con:
            return [_model(r) for r in self._rows(con, sql + " ORDER BY m.name, m.version DESC", params)]

    def update_metrics(self, name: str, version: int, metrics: dict[str, Any]) -> None:
        with self._write() as con:
            con.execute("UPDATE models SET metrics_json = ? WHERE name = ? AND version = ?",
                        [dumps(metrics), name, version])

    # -- aliases ------------------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int) -> int | None:
        """Point ``alias`` at ``version`` (moving it from any other); returns the previous version."""
        with self._write() as con:
            if not con.execute("SELECT 1 FROM models WHERE name = ? AND version = ?", [name, version]).fetchone():
                raise NotFoundError(f"unknown model version {name}:{version}")
            prev = con.execute(
                "SELECT version FROM model_aliases WHERE name = ? AND alias = ?", [name, alias]
            ).fetchone()
            now = utcnow()
            con.execute("INSERT OR REPLACE INTO model_aliases (name, alias, version, updated_at) VALUES (?, ?, ?, ?)",
                        [name, alias, version, now])
            con.execute("INSERT INTO alias_history (name, alias, version, previous_version, changed_at)"
                        " VALUES (?, ?, ?, ?, ?)",
                        [name, alias, version, prev[0] if prev else None, now])
        return prev[0] if prev else None

    def alias_history(self, name: str, alias: str | None = None) -> builtins.list[AliasChange]:
        sql = "SELECT * FROM alias_history WHERE name = ?"
        params: builtins.list[Any] = [name]
        if alias:
            sql += " AND alias = ?"
            params.append(alias)
        with self._read() as con:
            rows = self._rows(con, sql + " ORDER BY changed_at", params)
        return [AliasChange(name=r["name"], alias=r["alias"], version=r["version"],
                            previous_version=r["previous_version"], changed_at=r["changed_at"]) for r in rows]

    # -- deployments --------------------------------------------------------------------------
    def deploy(
        self, *, name: str, model_name: str, model_version: int, signature: dict[str, Any],
        output_dir: str | None = None, forced: bool = False, gate: dict[str, Any] | None = None,
        engine: str | None = None, engine_info: dict[str, Any] | None = None, follows: str | None = None,
    ) -> Deployment:
        """Create deployment ``name`` or repoint it at another model version.

        ``follows``: the alias of ``model_name`` it was deployed from, None for a fixed version.
        ``engine`` None keeps the deployment's engine ('local' for a new one); ``engine_info``
        describes the artifact for this model version, so a repoint without one clears it.
        """
        now = utcnow()
        with self._write() as con:
            if engine is None:
                row = con.execute("SELECT engine FROM deployments WHERE name = ?", [name]).fetchone()
                engine = (row[0] if row else None) or "local"
            con.execute(
                """INSERT INTO deployments (name, model_name, model_version, signature_json, output_dir,
                       forced, gate_json, created_at, updated_at, engine, engine_json, follows)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (name) DO UPDATE SET model_name = excluded.model_name,
                     model_version = excluded.model_version, signature_json = excluded.signature_json,
                     output_dir = coalesce(excluded.output_dir, deployments.output_dir),
                     forced = excluded.forced, gate_json = excluded.gate_json,
                     updated_at = excluded.updated_at, engine = excluded.engine,
                     engine_json = excluded.engine_json, follows = excluded.follows""",
                [name, model_name, model_version, dumps(signature), output_dir, forced, dumps(gate), now, now,
                 engine, dumps(engine_info), follows],
            )
        return self.deployment(name)

    def following(self, model_name: str, alias: str) -> builtins.list[Deployment]:
        """The deployments that follow ``model_name@alias`` (repointed when the alias moves)."""
        with self._read() as con:
            rows = self._rows(con, "SELECT * FROM deployments WHERE model_name = ? AND follows = ? ORDER BY name",
                              [model_name, alias])
        return [_deployment(r) for r in rows]

    def set_keep(self, name: str, keep: builtins.list[str]) -> Deployment:
        """The input columns deployment ``name``'s jobs carry into their outputs from now on."""
        with self._write() as con:
            con.execute("UPDATE deployments SET keep_json = ? WHERE name = ?", [dumps(list(keep)), name])
        return self.deployment(name)

    def deployment(self, name: str) -> Deployment:
        with self._read() as con:
            rows = self._rows(con, "SELECT * FROM deployments WHERE name = ?", [name])
        if not rows:
            raise NotFoundError(f"unknown deployment {name!r}")
        return _deployment(rows[0])

    def deployments(self) -> builtins.list[Deployment]:
        with self._read() as con:
            return [_deployment(r) for r in self._rows(con, "SELECT * FROM deployments ORDER BY name")]
