"""SMILES on the command line: Hydra's override grammar reads ``[``, ``(``, ``=``, ``#`` and ``,`` itself,
so the values of SMILES-valued keys are quoted before composition (``a=CC(=O)[O-]`` works as typed)."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["quote_smiles_overrides"]


def _quote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value  # quoted by the user already
    # Hydra reads a backslash literally unless backslashes precede a quote (2n+1 of them: n and the quote;
    # 2n before the closing quote: n), so only those runs are escaped: F/C=C\F stays as typed
    body = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", value)
    body = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, body)
    return "'" + body + "'"


def quote_smiles_overrides(argv: Iterable[str], keys: Iterable[str]) -> list[str]:
    """``argv`` with every ``key=value`` (``key`` in ``keys``, also ``+key=``) given a quoted value.

    A value ``[A,B,...]`` with a comma is a list of SMILES (SMILES never contain commas), each item
    quoted (``scaffold=[[*]C1CC1,[*]C(=O)O]``); ``null`` stays ``null``.
    """
    keys = set(keys)
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and key.lstrip("+~") in keys and value and value != "null":
            if value.startswith("[") and value.endswith("]") and "," in value:
                value = "[" + ",".join(_quote(v.strip()) for v in value[1:-1].split(",")) + "]"
            else:
                value = _quote(value)
            arg = f"{key}={value}"
        out.append(arg)
    return out
