"""Every plugin has one shape (docs/ARCHITECTURE.md, "One plugin shape"): the example plugin's
files, and each hook in `__init__.py` wired to the module named for it. A plugin that wires a
hook elsewhere, or keeps its messages in another shape, fails here."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tests" / "example_plugin" / "kaohe_example"
PLUGINS = {p.name: p for p in sorted((ROOT / "plugins").iterdir()) if (p / "__init__.py").is_file()}
ALL = {**PLUGINS, "example": EXAMPLE}

# Every plugin has these; the example plugin has them too (checked below).
REQUIRED = {"__init__.py", "config.py", "models.py", "migrations", "messages.toml", "templates",
            "routes.py", "jobs.py", "exporters.py"}
# hook -> the (module, name) pairs its implementation may import; a module ending in "_" is a
# family (routes.py or any *_routes.py); None: whatever module the plugin keeps it in.
SUFFIXED = {"routes", "cli"}
HOOK_MODULES: dict[str, set[tuple[str, str]] | None] = {
    "kaohe_settings_schema": {("config", "*")},
    "kaohe_tortoise_app": set(),
    "kaohe_messages": {("core.contrib", "plugin_messages")},
    "kaohe_template_dirs": set(),
    "kaohe_pages": {("routes", "PAGES")},
    "kaohe_api_routes": {("routes", "API"), ("routes", "HANDLERS")},
    "kaohe_nav_items": {("core.contrib", "NavItem")},
    "kaohe_dashboard_panels": {("panels", "panels")},
    "kaohe_user_panels": {("panels", "user_panels")},
    "kaohe_jobs": {("jobs", "jobs")},
    "kaohe_exporters": {("exporters", "exporters")},
    "kaohe_importers": {("importer", "importers")},
    "kaohe_indicator_sources": {("indicators", "sources")},
    "kaohe_event": {("listeners", "handle")},
    "kaohe_event_names": {("listeners", "NAMES")},
    "kaohe_cli_commands": {("cli", "register"), ("cli", "*")},
    "kaohe_demo_data": {("demo", "build")},
    "kaohe_validate_assessment": None,
    "kaohe_apply_assessment": None,
    "kaohe_user_leaves_role": None,
}
# The module a hook needs on disk, when the plugin implements the hook.
HOOK_FILES = {"kaohe_dashboard_panels": "panels.py", "kaohe_user_panels": "panels.py",
              "kaohe_importers": "importer.py", "kaohe_indicator_sources": "indicators.py",
              "kaohe_event": "listeners.py", "kaohe_event_names": "listeners.py",
              "kaohe_demo_data": "demo.py", "kaohe_cli_commands": "cli.py"}


def _hooks(init: Path) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    tree = ast.parse(init.read_text(encoding="utf-8"))
    return {node.name: node for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _imports(fn: ast.AST, package: str) -> set[tuple[str, str]]:
    """(module, name) imported in the hook; the plugin's own modules by their short name."""
    found = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            for alias in node.names:
                if module == package:  # `from plugins.x import annual_cli`
                    found.add((alias.name, "*"))
                elif module.startswith(package + "."):
                    found.add((module[len(package) + 1:], alias.name))
                else:
                    found.add((module, alias.name))
    return found


def _allowed(used: tuple[str, str], allowed: set[tuple[str, str]]) -> bool:
    module, name = used
    for want_module, want_name in allowed:
        same_module = module == want_module or (
            want_module in SUFFIXED and module.endswith("_" + want_module))
        if same_module and want_name in ("*", name):
            return True
    return False


def _package(path: Path) -> str:
    return "kaohe_example" if path == EXAMPLE else f"plugins.{path.name}"


def test_the_example_plugin_has_the_shape_it_shows():
    assert REQUIRED <= {p.name for p in EXAMPLE.iterdir()}


@pytest.mark.parametrize("name", sorted(ALL))
def test_a_plugin_has_the_files_of_the_shape(name):
    path = ALL[name]
    files = {p.name for p in path.iterdir()}
    assert REQUIRED <= files, f"{name} lacks {sorted(REQUIRED - files)}"
    for hook, needed in HOOK_FILES.items():
        if hook in _hooks(path / "__init__.py"):
            assert needed in files, f"{name} implements {hook} but has no {needed}"
    if path != EXAMPLE:
        assert "README.md" in files, f"{name} has no README.md saying what each module holds"


@pytest.mark.parametrize("name", sorted(ALL))
def test_each_hook_is_wired_to_the_module_named_for_it(name):
    path = ALL[name]
    package = _package(path)
    hooks = _hooks(path / "__init__.py")
    assert hooks, f"{name}: no hooks"
    for hook, fn in hooks.items():
        assert hook in HOOK_MODULES, f"{name}: {hook} is not a hook of the shape"
        allowed = HOOK_MODULES[hook]
        if allowed is None:
            continue
        for used in _imports(fn, package):
            assert _allowed(used, allowed), (
                f"{name}.{hook} imports {used[1]} from {used[0]}; the shape has it in "
                f"{sorted(allowed)}")


@pytest.mark.parametrize("name", sorted(ALL))
def test_init_only_wires_hooks(name):
    tree = ast.parse((ALL[name] / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            decorators = [ast.unparse(d) for d in node.decorator_list]
            assert decorators == ["hookimpl"], f"{name}: {node.name} is not a hook"
        elif isinstance(node, ast.ClassDef):
            pytest.fail(f"{name}: class {node.name} belongs in a module, not __init__.py")


@pytest.mark.parametrize("name", sorted(ALL))
def test_messages_are_one_table_per_language_of_the_plugins_own_keys(name):
    data = tomllib.loads((ALL[name] / "messages.toml").read_text(encoding="utf-8"))
    assert set(data) == {"zh", "en"}, f"{name}: languages {sorted(data)}"
    # the platform files them under the plugin's name: the file must not repeat it
    assert name not in data["zh"], f"{name}: messages.toml repeats its own namespace"
    hooks = _hooks(ALL[name] / "__init__.py")
    assert ("core.contrib", "plugin_messages") in _imports(hooks["kaohe_messages"], "")
