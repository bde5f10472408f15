"""The engine must stay free of the web framework and the task queue."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = ("django", "rest_framework", "celery", "drf_spectacular", "jobs", "dtleweb")
ENGINE = Path(__file__).resolve().parents[2] / "replication"


def test_replication_imports_no_django_drf_or_celery() -> None:
    offenders = []
    files = sorted(ENGINE.rglob("*.py"))
    assert files, "the engine package has no modules"
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
