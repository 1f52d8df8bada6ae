"""Result records of the domain's public functions, and their one way to JSON.

A public domain function returns a frozen dataclass deriving from :class:`Result`: screens and
other callers read its attributes, the CLI's ``--json`` prints its ``to_json()``. That is
``dataclasses.asdict`` with the few conversions JSON needs, so a record's JSON keys are its field
names in their order:

* a field whose name ends in ``_`` (``from_``, a Python keyword) is written without the ``_``;
* a field made with :func:`omitted_if_none` is left out while it is None: a key that only some
  kinds of a record have (a numeric column's means in a dataset diff);
* nested results, tuples and paths become JSON objects, lists and strings.

Values whose keys are data rather than a record's fields (LightGBM parameters, search spaces,
config.toml tables, metrics by name, JSON blobs the store keeps) stay dicts, named by an alias
that says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

JsonDict = dict[str, Any]
"""A JSON object whose keys are data (metric names, parameter names, a stored blob), not fields."""

_OMIT = "omitted_if_none"


def omitted_if_none() -> Any:
    """A field, None by default, that ``to_json`` leaves out while it is None. Declare such fields
    after a ``_: KW_ONLY`` marker, so fields without a default may follow them."""
    return field(default=None, metadata={_OMIT: True})


@dataclass(frozen=True)
class Result:
    """Base of the domain's result records (see the module docstring for the JSON rules)."""

    def to_json(self) -> JsonDict:
        out: JsonDict = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.metadata.get(_OMIT):
                continue
            out[f.name.removesuffix("_")] = plain(value)
        return out


def plain(value: Any) -> Any:
    """``value`` with every result, tuple and path inside it turned into JSON's objects, lists, strings."""
    if isinstance(value, Result):
        return value.to_json()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value
