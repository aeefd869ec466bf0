"""JSON read strictly, for every checkpoint townsquare reads: a duplicate key (which
`json` would silently resolve to the last one) or a NaN/Infinity constant (not JSON) is
refused, so two readers can never disagree about what a file says."""

from __future__ import annotations

import json


def _duplicate_keys_refused(pairs: list) -> dict:
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _constant_refused(name: str):
    raise ValueError(f"{name} is not JSON")


def strict_json(text: str, what: str):
    """``text`` parsed as strict JSON: a duplicate key or a NaN/Infinity constant is a
    `ValueError` naming ``what``."""
    try:
        return json.loads(
            text, object_pairs_hook=_duplicate_keys_refused, parse_constant=_constant_refused
        )
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise ValueError(f"{what} is not strict JSON ({exc})") from None
