"""Architecture rules that linters don't cover: services never import the web framework."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_services_never_import_litestar() -> None:
    offenders = []
    for path in ROOT.glob("*/services*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "litestar"]
    assert not offenders, "services hold rules and must not import litestar:\n" + "\n".join(offenders)
