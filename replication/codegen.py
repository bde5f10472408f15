"""Functions written out once from generated source: per table or column type, where a loop
over steps per value would be paid for every row.

The source may hold only the generator's own text, numbers and ``repr`` literals; everything
else (converters, structs, codecs) enters through ``scope`` by name, never as text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def define(lines: Sequence[str], name: str, scope: dict[str, Any], filename: str) -> Any:
    """The function ``name`` that ``lines`` define, compiled with ``scope`` as its globals;
    ``filename`` names the source in tracebacks."""
    exec(compile("\n".join(lines) + "\n", filename, "exec"), scope)  # noqa: S102 - see above
    return scope[name]
