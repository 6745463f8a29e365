"""issue 16 §6: no import circle between the monthly review's models and rules. Imports go one
way, models → rules → choices; the rules never import the models, not even inside a function
(a lazy import hides a circle, it does not break it)."""

import ast
from pathlib import Path

import health.reviews

PACKAGE = Path(health.reviews.__file__).parent
PREFIX = "health.reviews."


def _imports(module: str) -> set[str]:
    """Every module of this package `module` imports, anywhere in the file."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                found |= {node.module} if node.module else {alias.name for alias in node.names}
            elif (node.module or "").startswith(PREFIX):
                found.add(node.module.removeprefix(PREFIX))
            elif node.level == 2 and node.module == "reviews":
                found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix(PREFIX) for a in node.names if a.name.startswith(PREFIX)}
    return found


def test_the_models_import_the_rules_and_the_rules_never_the_models():
    assert "rules" in _imports("models")
    assert "models" not in _imports("rules")
    assert "choices" in _imports("rules") and not _imports("choices")


def test_no_module_of_the_review_package_is_part_of_an_import_circle():
    modules = {path.stem for path in PACKAGE.glob("*.py")}
    graph = {module: _imports(module) & modules for module in modules}

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, (*seen, n))) for n in graph[start])

    circles = sorted(module for module in graph if reaches(module, module))
    assert not circles, f"modules in an import circle: {circles}"
