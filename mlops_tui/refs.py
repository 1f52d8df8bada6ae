"""The references users type: dataset NAME[:VERSION], model NAME[:VERSION|@ALIAS], parsed and resolved.

:func:`resolve_model` is the registry's lookup (re-exported by :mod:`mlops_tui.registry.models`);
it lives here, below the lifecycle packages, so evaluation can find a model without the registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_tui.errors import UserError

if TYPE_CHECKING:
    from mlops_tui.store import ModelVersion
    from mlops_tui.workspace import Workspace

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
"""What a dataset, model, alias or deployment name may be written with."""
FORMS = {"dataset": "NAME or NAME:VERSION", "model": "NAME, NAME:VERSION or NAME@ALIAS"}
"""The reference forms of each kind, named in every error about a reference."""


@dataclass(frozen=True)
class Ref:
    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.alias:
            return f"{self.name}@{self.alias}"
        return self.name if self.version is None else f"{self.name}:{self.version}"


def check_name(kind: str, value: str) -> str:
    """Dataset, model, alias and deployment names end up in references (``NAME:VERSION``,
    ``NAME@ALIAS``) and file names: keep them plain."""
    if not NAME.fullmatch(value or ""):
        raise UserError(f"bad {kind} {value!r}: use letters, digits, '_', '-' or '.' (no ':' or '@', "
                        "which references use)")
    return value


def _bad(kind: str, text: str, hint: str = "") -> UserError:
    """One line: the reference as typed, the forms a ``kind`` reference takes, and a hint."""
    return UserError(f"bad {kind} reference {text!r}: expected {FORMS[kind]}{hint}")


def _version_hint(name: str, alias: str | None) -> str:
    """``default@1`` is a natural slip for version 1: name the form that means it."""
    return f" (for version {alias} write {name}:{alias})" if name and alias and alias.isdigit() else ""


def parse_ref(text: str, *, allow_alias: bool = False, kind: str = "dataset") -> Ref:
    text = text.strip()
    if "@" in text:
        name, alias = text.split("@", 1)
        if not allow_alias:
            raise _bad(kind, text, f"; aliases like @production are for models{_version_hint(name, alias)}")
        if not name or not alias:
            raise _bad(kind, text)
        return Ref(name, alias=alias)
    if ":" in text:
        name, version = text.rsplit(":", 1)
        if not name or not version.isdigit():
            raise _bad(kind, text)
        return Ref(name, version=int(version))
    if not text:
        raise _bad(kind, text)
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
        raise UserError(f"{exc}{_version_hint(r.name, r.alias)}") from exc
