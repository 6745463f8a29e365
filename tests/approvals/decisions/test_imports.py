"""issue 15 §3: no import circle in the decision package. The tasks import the services (and
webhooks); the services import neither the tasks nor chat, not even inside a function (a lazy
import hides a circle, it does not break it)."""

import ast
from pathlib import Path

import approvals.decisions

PACKAGE = Path(approvals.decisions.__file__).parent


def _imports(module: str) -> set[str]:
    """Every module of this package `module` imports, anywhere in the file."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                found |= {node.module} if node.module else {alias.name for alias in node.names}
            elif (node.module or "").startswith("approvals.decisions."):
                found.add(node.module.removeprefix("approvals.decisions."))
        elif isinstance(node, ast.Import):
            prefix = "approvals.decisions."
            found |= {a.name.removeprefix(prefix) for a in node.names if a.name.startswith(prefix)}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {path.stem for path in PACKAGE.glob("*.py")}
    return {module: _imports(module) & modules for module in modules}


def test_the_services_import_neither_the_tasks_nor_chat():
    assert not _imports("services") & {"tasks", "chat"}
    assert "services" in _imports("tasks")


def test_no_module_of_the_package_is_part_of_an_import_circle():
    graph = _graph()

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, (*seen, n))) for n in graph[start])

    circles = sorted(module for module in graph if reaches(module, module))
    assert not circles, f"modules in an import circle: {circles}"
