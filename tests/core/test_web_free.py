"""Domain code loads without the web stack: every module of core and of the plugins that is
not a route, page or web-shell module imports with `litestar` blocked."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The web shell and the route modules: the only places that may import litestar.
WEB_NAMES = {"app.py", "web.py", "security.py", "login.py", "params.py", "api_docs.py",
             "routes.py", "pages.py"}

BLOCKER = """
import importlib.abc, json, sys, traceback
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "litestar" or name.startswith("litestar."):
            raise ImportError(f"blocked web import: {name}")
        return None
sys.meta_path.insert(0, Block())
failed = {}
for name in json.loads(sys.argv[1]):
    try:
        __import__(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps(failed))
"""


def _modules() -> tuple[list[str], list[str]]:
    domain, web = [], []
    for top in ("core", "plugins"):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if path.name == "__main__.py":  # runs the command line when imported
                continue
            name = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
            tree = ast.parse(path.read_text(encoding="utf-8"))
            imports_web = any(
                (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "litestar")
                or (isinstance(n, ast.Import) and any(a.name.split(".")[0] == "litestar"
                                                      for a in n.names))
                for n in tree.body)
            is_web = path.name in WEB_NAMES or path.name.endswith("_routes.py")
            (web if is_web else domain).append(name)
            if imports_web and not is_web:
                domain.append(f"!{name}")  # reported below
    return domain, web


def test_only_route_and_web_modules_import_litestar():
    domain, _ = _modules()
    assert [n[1:] for n in domain if n.startswith("!")] == []


@pytest.mark.once
def test_every_domain_module_imports_with_litestar_blocked():
    domain, web = _modules()
    assert len(domain) > 80 and len(web) > 10  # the walk found the tree
    names = [n for n in domain if not n.startswith("!")]
    out = subprocess.run([sys.executable, "-c", BLOCKER, json.dumps(names)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {}
