"""No page states a result it did not read: every percentage in the dashboard's text is
formatted from a value (the cache's, or the report's published figures in
:mod:`core.published`), never written into a string."""

from __future__ import annotations

import ast
import re

import pytest

from tests.conftest import REPO

PERCENT = re.compile(r"(?<![.\w])\d[\d.,]*\s*%")  # not a format spec such as ".1%"
SOURCES = sorted((REPO / "dashboard").rglob("*.py"))


def _format_specs(tree: ast.AST) -> set[int]:
    """ids of the constants that are format specs (the ``.2%`` of ``f"{x:.2%}"``)."""
    specs = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            specs |= {id(c) for c in ast.walk(node.format_spec)}
    return specs


def written_percentages(source: str) -> list[tuple[int, str]]:
    """(line, text) of every percentage written into a string literal of ``source``."""
    tree = ast.parse(source)
    specs = _format_specs(tree)
    return [
        (node.lineno, match.group())
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in specs
        for match in PERCENT.finditer(node.value)
    ]


def test_the_check_finds_a_written_figure_and_spares_a_formatted_one():
    assert written_percentages('st.caption("learned templates reach 90.8 %")') == [(1, "90.8 %")]
    assert written_percentages('st.caption(f"they reach {acc:.2%} (K = 4)")') == []
    assert written_percentages('x = f"{a:.1%} and 14%"') == [(1, "14%")]
    assert written_percentages("fmt = '.1%'") == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_no_page_writes_a_figure_into_its_text(path):
    found = written_percentages(path.read_text())
    assert not found, f"{path.name}: figures written into the text: {found}"
