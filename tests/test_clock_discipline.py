"""No test reads the real date without saying so: a call of `date.today()`, `datetime.today()`,
`timezone.localdate()` or `.now(...).date()` in a test module is allowed only in a test marked
`calendar` (swept over a year by --calendar-sweep) or inside a time-machine travel."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
# The clock's own machinery reads the real clock to move it.
EXEMPT = {"clock.py", "clocked.py"}


def _reads_the_date(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    name = node.func.attr
    if name in {"today", "localdate"} and not node.args:
        return True
    inner = node.func.value
    return (
        name == "date"
        and isinstance(inner, ast.Call)
        and isinstance(inner.func, ast.Attribute)
        and inner.func.attr == "now"
    )


def _marked_calendar(decorators: list[ast.expr]) -> bool:
    return any("calendar" in ast.unparse(decorator) for decorator in decorators)


def _travels(node: ast.AST) -> bool:
    return isinstance(node, ast.With) and any(
        "travel" in ast.unparse(item.context_expr) for item in node.items
    )


def _offences(path: Path, root: Path = TESTS.parent) -> list[str]:
    tree = ast.parse(path.read_text())
    module_marked = any(
        isinstance(node, ast.Assign)
        and any(getattr(target, "id", "") == "pytestmark" for target in node.targets)
        and "calendar" in ast.unparse(node.value)
        for node in tree.body
    )
    found: list[str] = []

    def visit(node: ast.AST, allowed: bool) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            allowed = allowed or _marked_calendar(node.decorator_list)
        if _travels(node):
            allowed = True
        if _reads_the_date(node) and not allowed:
            found.append(f"{path.relative_to(root)}:{node.lineno}")
        for child in ast.iter_child_nodes(node):
            visit(child, allowed)

    visit(tree, module_marked)
    return found


def test_no_test_reads_the_real_date_without_saying_so():
    offences = [
        offence
        for path in sorted(TESTS.rglob("*.py"))
        if path.name not in EXEMPT and "vendor" not in path.parts
        for offence in _offences(path)
    ]
    assert offences == []


def test_the_check_finds_a_read_of_the_real_date(tmp_path):
    unmarked = tmp_path / "test_unmarked.py"
    unmarked.write_text("import datetime as dt\n\ndef test_x():\n    assert dt.date.today()\n")
    marked = tmp_path / "test_marked.py"
    marked.write_text(
        "import datetime as dt\nimport pytest\n\n@pytest.mark.calendar\n"
        "def test_x():\n    assert dt.date.today()\n"
    )
    assert _offences(unmarked, tmp_path) == ["test_unmarked.py:4"]
    assert _offences(marked, tmp_path) == []
