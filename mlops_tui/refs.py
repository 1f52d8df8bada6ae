"""The references users type: dataset NAME[:VERSION], model NAME[:VERSION|@ALIAS], parsed and resolved.

:func:`resolve_model` is the registry's lookup (re-exported by :mod:`mlops_tui.registry.models`);
it lives here, below the lifecycle packages, so evaluation can find a model without the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_tui.errors import UserError

if TYPE_CHECKING:
    from mlops_tui.store import ModelVersion
    from mlops_tui.workspace import Workspace


@dataclass(frozen=True)
class Ref:
    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.alias:
            return f"{self.name}@{self.alias}"
        return self.name if self.version is None else f"{self.name}:{self.version}"


def parse_ref(text: str, *, allow_alias: bool = False, kind: str = "dataset") -> Ref:
    text = text.strip()
    if not allow_alias and "@" in text:
        raise UserError(f"bad {kind} reference {text!r}: expected NAME or NAME:VERSION "
                        f"(aliases like @production are for models)")
    if allow_alias and "@" in text:
        name, alias = text.split("@", 1)
        if not name or not alias:
            raise UserError(f"bad {kind} reference {text!r}: expected NAME@ALIAS")
        return Ref(name, alias=alias)
    if ":" in text:
        name, version = text.rsplit(":", 1)
        if not name or not version.isdigit():
            raise UserError(f"bad {kind} reference {text!r}: expected NAME or NAME:VERSION")
        return Ref(name, version=int(version))
    if not text:
        raise UserError(f"empty {kind} reference")
    return Ref(text)


def resolve_model(ws: Workspace, ref: str) -> ModelVersion:
    """``NAME`` (latest version), ``NAME:VERSION`` or ``NAME@ALIAS`` → the model version."""
    from mlops_tui.store import NotFoundError

    r = parse_ref(ref, allow_alias=True, kind="model")
    try:
        if r.alias:
            return ws.store.models.by_alias(r.name, r.alias)
        return ws.store.models.get(r.name, r.version)
    except NotFoundError as exc:
        raise UserError(str(exc)) from exc
