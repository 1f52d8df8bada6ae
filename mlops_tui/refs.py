"""Parsing of the references users type: dataset NAME[:VERSION], model NAME[:VERSION|@ALIAS]."""

from __future__ import annotations

from dataclasses import dataclass

from mlops_tui.errors import UserError


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
