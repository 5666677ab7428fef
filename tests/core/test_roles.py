"""Role sets are named once, in core.roles: a tuple of role names spelled out in core or a
plugin fails here, so who may do what reads the same at every route."""

from __future__ import annotations

import ast
from pathlib import Path

from core import accounts, roles

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [p for d in ("core", "plugins", "tests/example_plugin")
           for p in (ROOT / d).rglob("*.py") if "migrations" not in p.parts]


def test_the_roles_are_the_accounts_roles():
    assert set(roles.ALL) == set(accounts.ROLES)
    sets = {name: value for name, value in vars(roles).items()
            if name.isupper() and isinstance(value, tuple)}
    assert all(set(v) <= set(roles.ALL) and v for v in sets.values())
    assert len({frozenset(v) for v in sets.values()}) == len(sets), "two names for one set"


def test_no_role_tuple_is_spelled_out():
    spelled = []
    for path in SOURCES:
        if path == ROOT / "core" / "roles.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Tuple) and node.elts and all(
                    isinstance(e, ast.Constant) and e.value in roles.ALL for e in node.elts):
                spelled.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not spelled, f"use a core.roles set: {spelled}"
