"""docs/GUARANTEES.md stays true: every test it names exists, and every guarantee of README's
Guarantees section has its section there."""

from __future__ import annotations

import ast
import re

from tests.conftest import REPO

DOC = REPO / "docs" / "GUARANTEES.md"


def _tests(module: str) -> set[str]:
    tree = ast.parse((REPO / "tests" / module).read_text())
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


def test_every_named_test_exists():
    text = DOC.read_text()
    named = re.findall(r"`(test_\w+\.py)::(\w+)", text)
    assert len(named) >= 40, named
    last_module = None
    for module, name in named:
        assert name in _tests(module), f"{module}::{name} named in docs/GUARANTEES.md does not exist"
        last_module = module
    # `...::name` continues the module named before it on the same line
    for line in text.splitlines():
        module = None
        for m in re.finditer(r"`(?:(test_\w+\.py)|)::(\w+)", line):
            module = m.group(1) or module or last_module
            if not m.group(1) and module:
                assert m.group(2) in _tests(module), f"{module}::{m.group(2)} does not exist"


def test_every_readme_guarantee_has_its_section():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Guarantees", 1)[1].split("\n## ", 1)[0]
    titles = re.findall(r"^- \*\*(.+?)\*\*", section, flags=re.M)
    assert len(titles) == 6, titles
    doc = DOC.read_text()
    for title in titles:
        assert f"## {title.rstrip(':')}" in doc, title
    assert "docs/GUARANTEES.md" in section
