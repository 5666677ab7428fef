"""Every module the code, its migrations and its tests import is provided by a distribution
the project declares: runtime imports by `[project] dependencies`, test imports by the `test`
extra. A module that only the machine happens to have fails here, not on a user's machine."""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCAL = {"core", "plugins", "tests", "bench", "kaohe_example",
         *(p.stem for p in (ROOT / "bench").glob("*.py"))}  # bench scripts import each other
# Imported only to prove a plugin with a missing dependency is reported (never installed).
DELIBERATELY_MISSING = {"kaohe_no_such_dependency"}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    test = {_name(r) for r in project["optional-dependencies"]["test"]}
    return runtime, runtime | test


def _top_level_imports(folder: Path) -> dict[str, str]:
    """module → first file importing it (absolute imports only)."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def _undeclared(folders: list[Path], allowed: set[str]) -> list[str]:
    providers = md.packages_distributions()
    missing = []
    for folder in folders:
        for module, where in _top_level_imports(folder).items():
            if module in sys.stdlib_module_names or module in LOCAL | DELIBERATELY_MISSING:
                continue
            dists = {d.lower().replace("_", "-") for d in providers.get(module, [])}
            if not dists & allowed:
                missing.append(f"{module} (imported by {where}; provided by "
                               f"{', '.join(sorted(dists)) or 'nothing installed'})")
    return sorted(missing)


def test_runtime_imports_are_declared_dependencies():
    runtime, _ = _declared()
    # core/ and plugins/ include every migrations package (core/migrations, plugins/*/migrations).
    assert list((ROOT / "plugins").glob("*/migrations/0001_*.py")), "migrations not found"
    assert _undeclared([ROOT / "core", ROOT / "plugins"], runtime) == []


def test_test_imports_are_declared_in_the_test_extra():
    _, with_test = _declared()
    assert _undeclared([ROOT / "tests", ROOT / "bench"], with_test) == []


def test_the_check_catches_an_undeclared_module(tmp_path):
    (tmp_path / "mod.py").write_text("import orjson\nimport json\nfrom core import db\n",
                                     encoding="utf-8")
    # Relative to ROOT for the message; a temporary folder stands in for a source tree.
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert _undeclared([tmp_path], {"litestar"})[0].startswith("orjson (imported by mod.py")
        assert _undeclared([tmp_path], {"orjson"}) == []
    finally:
        ROOT = saved
