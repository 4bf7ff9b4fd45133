"""Typed values from plain data: checking a YAML/Hydra value against a dataclass field's
annotation (`coerce`), building nested frozen dataclasses from dicts with every problem
collected (`build`), and turning dataclasses back into plain YAML-able values (`to_plain`).
`sweep.config` builds `SweepConfig` with it; `search_space` and `retrain` check values with it.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Literal

from sweep.errors import Problems


def to_plain(obj: Any) -> Any:
    """Dataclasses, tuples and dicts as plain YAML-able values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_plain(v) for v in obj]
    return obj


def coerce(tp: Any, value: Any, key: str, problems: Problems) -> Any:
    """Check `value` against the annotation `tp`, converting where it is lossless.

    Supports the annotations used in this package: int, float, bool, str, Literal, X | None,
    tuple[str, ...], dict[str, ...], Any and nested dataclasses.
    """
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            problems.add(key, value, "must be set (null is not allowed here)")
            return None
        inner = [a for a in args if a is not type(None)]
        return coerce(inner[0], value, key, problems) if len(inner) == 1 else value
    if origin is Literal:
        if value not in args:
            problems.add(key, value, f"choose one of {', '.join(map(str, args))}")
        return value
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key, problems)
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            problems.add(key, value, "must be a list")
            return ()
        return tuple(coerce(args[0], v, f"{key}[{i}]", problems) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            problems.add(key, value, "must be a mapping")
            return {}
        return {str(k): coerce(args[1], v, f"{key}.{k}", problems) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            problems.add(key, value, "must be true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            problems.add(key, value, "must be an integer")
        return value
    if tp is float:
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.add(key, value, "must be a number")
            return value
        if not math.isfinite(float(value)):
            problems.add(key, value, "must be a finite number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            problems.add(key, value, "must be a string")
        return value
    return value


def build(cls: type, data: Any, prefix: str, problems: Problems) -> Any:
    """Build dataclass `cls` from a mapping; unknown and missing keys are problems."""
    if not isinstance(data, dict):
        problems.add(prefix, data, f"must be a mapping of {cls.__name__} settings")
        return None
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            close = [n for n in names if n.startswith(str(key)[:3])]
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.add(f"{prefix}.{key}".lstrip("."), data[key],
                         f"unknown key{hint}; known keys: {', '.join(sorted(names))}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        key = f"{prefix}.{f.name}".lstrip(".")
        if f.name in data:
            kwargs[f.name] = coerce(hints[f.name], data[f.name], key, problems)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            problems.add(key, None, "is required")
            kwargs[f.name] = None
    try:
        return cls(**kwargs)
    except TypeError:  # only reachable with problems already recorded
        return None
