"""House rules the code itself can be checked for."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dtl_cli"
MAX_LINES = 60


def _long_functions(root: Path, limit: int) -> list[str]:
    """Functions of the .py files under root longer than ``limit`` lines from their `def`
    to their last line, not counting the docstring: "path:line name (n lines)"."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            lines = node.end_lineno - node.lineno + 1
            doc = node.body[0]
            if isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant):
                lines -= doc.end_lineno - doc.lineno + 1
            if lines > limit:
                found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name} ({lines})")
    return found


def test_the_checker_counts_code_lines_without_the_docstring(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(5))
    (tmp_path / "m.py").write_text(f'def f():\n    """One.\n\n    Two."""\n{body}\n')
    assert _long_functions(tmp_path, 6) == []
    assert _long_functions(tmp_path, 5) == [f"{tmp_path.name}/m.py:1 f (6)"]


def test_no_function_in_dtl_cli_is_longer_than_60_lines():
    assert _long_functions(PACKAGE, MAX_LINES) == []
