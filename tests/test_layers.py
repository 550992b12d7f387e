"""Where things live (CONVENTIONS.md, Layout): the domain apps raise their own errors;
which of them fail a job at once is declared with each task (``throws=``)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN_APPS = ("carts", "orders", "inventory", "stats")


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


@pytest.mark.parametrize("app", DOMAIN_APPS)
def test_domain_code_does_not_raise_the_workers_errors(app):
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / app).rglob("*.py"))
        if "worker.exceptions" in imported_modules(path)
    ]
    assert offenders == [], "raise the app's own exceptions and declare them with throws="
