"""JSON type checks of dataclass fields: one-line ConfigErrors for configuration files.

The foundation of every layer that reads a configuration (the run's :class:`RunConfig`, the
embedded world's ``WorldConfig``): imports nothing of the project but :mod:`repcam_core.errors`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, Mapping

from repcam_core.errors import ConfigError


def check_types(cls: type, data: Mapping[str, Any], prefix: str = "") -> None:
    """ConfigError naming the first field of dataclass ``cls`` whose value in ``data`` has the wrong
    JSON type (a string where a number belongs, ...); unknown keys are left to the caller."""
    import typing

    hints = typing.get_type_hints(cls)
    for name, value in data.items():
        if name in hints and not _fits(value, hints[name]):
            raise ConfigError(f"configuration key '{prefix}{name}' must be {_describe(hints[name])}, got {value!r}")


def _fits(value: Any, hint: Any) -> bool:
    import collections.abc
    import types
    import typing

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is type(None):
        return value is None
    if origin is Literal:
        return value in args
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if origin in (collections.abc.Mapping, dict) or hint in (Mapping, dict):
        return isinstance(value, Mapping)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if dataclasses.is_dataclass(hint):
        return isinstance(value, (hint, Mapping))
    return True


def _describe(hint: Any) -> str:
    import typing

    args = typing.get_args(hint)
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if args and any(a is type(None) for a in args):
        return " or ".join(_describe(a) for a in args if a is not type(None)) + " or null"
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    return names.get(hint, "a JSON object")
