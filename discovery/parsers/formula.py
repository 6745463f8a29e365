"""Field references in Salesforce formulas (validation rules, workflow criteria, field updates):
the identifiers that are not functions, keywords, globals ($User…) or inside string literals."""

import re

_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'", re.S)
_IDENTIFIER = re.compile(r"(?<![\w$.])(\$?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)")
_KEYWORDS = frozenset({"TRUE", "FALSE", "NULL", "AND", "OR", "NOT"})
_MERGE = re.compile(r"\{!\s*([^}]+?)\s*\}")


def formula_references(formula: str) -> list[list[str]]:
    """Each field reference as its dotted parts, in order of appearance, without repeats."""
    if not formula:
        return []
    stripped = _STRING.sub(" ", _COMMENT.sub(" ", formula))
    found: list[list[str]] = []
    seen: set[str] = set()
    for match in _IDENTIFIER.finditer(stripped):
        name = match.group(1)
        rest = stripped[match.end() :].lstrip()
        if rest.startswith("("):
            continue  # a function
        if name.startswith("$") or name.upper() in _KEYWORDS:
            continue
        if name.lower() not in seen:
            seen.add(name.lower())
            found.append(name.split("."))
    return found


def merge_fields(text: str) -> list[str]:
    """The references inside flow merge syntax {!...}."""
    return [match.group(1) for match in _MERGE.finditer(text or "")]
