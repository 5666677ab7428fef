"""The plugin author's Reference (docs/plugins.md, "# Reference") names real objects with
their real signatures, and documents every public name of core.contrib.

Each entry is a heading "### `dotted.path`"; when a ```python block follows it at once, the
block's first line is the signature ("[async ]Name(params)"). The test imports each name and
compares the documented parameters (names, order, kinds, which have defaults and their literal
values) with inspect.signature, and `async` with whether the code is a coroutine function.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "plugins.md"
HEADING = re.compile(r"^### `([\w.]+)`\s*$")
SIGNATURE = re.compile(r"^(async )?([\w.]+)\((.*)\)\s*(?:->.*)?$")


@dataclass
class Entry:
    path: str
    line: int
    signature: str | None = None  # the parameter list as documented
    is_async: bool = False


def reference_text(text: str) -> str:
    start = text.find("\n# Reference\n")
    assert start >= 0, "docs/plugins.md has no '# Reference' part"
    end = text.find("\n# ", start + 1)
    return text[start:end if end > 0 else None]


def parse(text: str) -> list[Entry]:
    lines = reference_text(text).splitlines()
    entries = []
    for i, line in enumerate(lines):
        found = HEADING.match(line)
        if not found:
            continue
        entry = Entry(found.group(1), i)
        if i + 2 < len(lines) and lines[i + 1].strip() == "```python":
            sig = SIGNATURE.match(lines[i + 2].strip())
            assert sig, f"{entry.path}: the block under it must start with its signature"
            assert sig.group(2) == entry.path.rsplit(".", 1)[1] or \
                sig.group(2) == ".".join(entry.path.rsplit(".", 2)[-2:]), \
                f"{entry.path}: signature of {sig.group(2)}"
            entry.signature, entry.is_async = sig.group(3), bool(sig.group(1))
        entries.append(entry)
    return entries


def resolve(path: str) -> Any:
    """The object at a dotted path: the longest importable module, then attributes (a
    property is returned as the property itself)."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            holder = obj
            obj = inspect.getattr_static(holder, name) if inspect.isclass(holder) else \
                getattr(holder, name)
            if isinstance(obj, (staticmethod, classmethod)):
                obj = obj.__func__
        return obj
    raise ImportError(path)


def _documented(params: str) -> list[tuple[str, str, bool, Any]]:
    """(name, kind, has default, default or ... when not a literal) of a parameter list."""
    fn = ast.parse(f"def f({params}): pass").body[0].args  # type: ignore[attr-defined]
    out: list[tuple[str, str, bool, Any]] = []

    def literal(node: ast.expr) -> Any:
        try:
            return ast.literal_eval(node)
        except ValueError:
            return ...

    positional = fn.posonlyargs + fn.args
    defaults = [None] * (len(positional) - len(fn.defaults)) + fn.defaults
    for arg, default in zip(positional, defaults, strict=True):
        kind = "POSITIONAL_ONLY" if arg in fn.posonlyargs else "POSITIONAL_OR_KEYWORD"
        out.append((arg.arg, kind, default is not None,
                    literal(default) if default is not None else None))
    if fn.vararg:
        out.append((fn.vararg.arg, "VAR_POSITIONAL", False, None))
    for arg, default in zip(fn.kwonlyargs, fn.kw_defaults, strict=True):
        out.append((arg.arg, "KEYWORD_ONLY", default is not None,
                    literal(default) if default is not None else None))
    if fn.kwarg:
        out.append((fn.kwarg.arg, "VAR_KEYWORD", False, None))
    return out


def problems(entry: Entry) -> list[str]:
    """What is wrong with one documented name ([] when it matches the code)."""
    try:
        obj = resolve(entry.path)
    except (ImportError, AttributeError) as exc:
        return [f"{entry.path}: not found ({exc})"]
    if entry.signature is None:
        return []
    if isinstance(obj, property):
        return [f"{entry.path}: a property has no signature to document"]
    actual = inspect.signature(obj)
    params = list(actual.parameters.values())
    if not inspect.isclass(obj) and params and params[0].name == "self":
        params = params[1:]  # a method documented as Class.method(…)
    try:
        documented = _documented(entry.signature)
    except SyntaxError as exc:
        return [f"{entry.path}: the documented signature does not parse ({exc})"]
    found = []
    names = [p.name for p in params]
    if [d[0] for d in documented] != names:
        found.append(f"{entry.path}: documented ({', '.join(d[0] for d in documented)}), "
                     f"the code takes ({', '.join(names)})")
        return found
    for (name, kind, has_default, default), p in zip(documented, params, strict=True):
        if kind != p.kind.name:
            found.append(f"{entry.path}: {name} is {p.kind.name.lower()} in the code")
        if has_default != (p.default is not inspect.Parameter.empty):
            found.append(f"{entry.path}: {name} " + ("has no default in the code" if has_default
                                                    else "has a default in the code"))
        elif has_default and default is not ... and repr(p.default) != "<factory>" \
                and default != p.default:
            found.append(f"{entry.path}: {name} defaults to {p.default!r} in the code, "
                         f"not {default!r}")
    target = obj.__init__ if inspect.isclass(obj) else obj
    if entry.is_async != inspect.iscoroutinefunction(target):
        found.append(f"{entry.path}: documented {'async' if entry.is_async else 'plain'}, "
                     f"the code is {'plain' if entry.is_async else 'async'}")
    return found


ENTRIES = parse(DOC.read_text(encoding="utf-8"))


def test_the_reference_covers_what_plugins_touch():
    paths = {e.path for e in ENTRIES}
    modules = {p.rsplit(".", 1)[0] for p in paths}
    for module in ("core.contrib", "core.scheduler", "core.xlsx", "core.errors", "core.web",
                   "core.audit", "core.clock", "core.scope", "core.import_flow",
                   "core.events", "core.testing"):
        assert module in modules or any(m.startswith(module + ".") for m in modules), module
    for name in ("core.scheduler.JobContext", "core.contrib.ExportRequest",
                 "core.xlsx.WorkbookBuilder", "core.web.page", "core.audit.record",
                 "core.scope.scope_for", "core.import_flow.ImportContext",
                 "core.events.announce", "core.testing.running_platform"):
        assert name in paths, name
    assert len(paths) == len(ENTRIES), "a name is documented twice"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.path)
def test_each_documented_name_exists_with_its_signature(entry):
    assert problems(entry) == []


def _public_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if not n.startswith("_")}


def test_every_public_name_of_contrib_is_documented():
    import core.contrib

    public = set(getattr(core.contrib, "__all__", ())) or _public_names(
        Path(core.contrib.__file__))
    documented = {e.path.removeprefix("core.contrib.") for e in ENTRIES
                  if e.path.startswith("core.contrib.")}
    assert public, "core.contrib has no public names?"
    assert not public - documented, f"undocumented in the Reference: {sorted(public - documented)}"


def test_the_check_fails_for_a_renamed_or_changed_name():
    """The comparison itself: a name that is gone, a renamed or missing parameter, a wrong
    default or a wrong async marker are each reported."""
    doc = """
# Reference
### `core.clock.no_such_function`
### `core.contrib.NavItem`
```python
NavItem(key, href, roles, order=50)
```
### `core.contrib.Panel`
```python
Panel(template, context={})
```
### `core.audit.record_bulk`
```python
async record_bulk(action, object_type, object_ids, *, before=None, after=None, reason="x", actor=None)
```
### `core.web.page`
```python
async page(request, template, status_code=200, **context)
```
### `core.errors.Invalid`
```python
Invalid(code, message, status=None, field=None, details=None, params=None)
```
"""
    found = {e.path: problems(e) for e in parse(doc)}
    assert all(found.values()), found
    assert "not found" in found["core.clock.no_such_function"][0]
    assert "href" in found["core.contrib.NavItem"][0]
    assert "order" in found["core.contrib.Panel"][0]
    assert "defaults to ''" in found["core.audit.record_bulk"][0]
    assert "the code is plain" in found["core.web.page"][0]
    assert "keyword_only" in found["core.errors.Invalid"][0]
