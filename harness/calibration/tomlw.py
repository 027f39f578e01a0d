"""A minimal TOML writer for calibration tables (Python reads TOML with tomllib but cannot write it):
scalars, lists of scalars, tables and arrays of tables, in the order given."""
from __future__ import annotations

import json
import re


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)     # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


def _is_table_array(v) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def dumps(doc: dict, _prefix: str = "") -> str:
    lines, later = [], []
    for k, v in doc.items():
        if v is None:
            continue
        if isinstance(v, dict):
            later.append(f"\n[{_prefix}{_key(k)}]\n" + dumps(v, f"{_prefix}{_key(k)}."))
        elif _is_table_array(v):
            later += [f"\n[[{_prefix}{_key(k)}]]\n" + dumps(x, f"{_prefix}{_key(k)}.") for x in v]
        else:
            lines.append(f"{_key(k)} = {_value(v)}")
    return "\n".join(lines) + ("\n" if lines else "") + "".join(later)
