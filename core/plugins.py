"""Plugin loader: finds plugins in the `kaohe` entry-point group and wraps their hooks."""

from __future__ import annotations

import importlib.metadata as md
import inspect
import logging
from dataclasses import dataclass, field
from typing import Any

import pluggy

from core import hookspecs

log = logging.getLogger("kaohe.plugins")
GROUP = "kaohe"


class PluginError(Exception):
    """A plugin could not be loaded where it had to be."""


@dataclass
class PluginInfo:
    name: str
    module: str
    version: str
    distribution: str
    error: str | None = None
    contributes: dict[str, list[str]] = field(default_factory=dict)


class PluginHost:
    """The pluggy manager plus typed helpers; one per app or CLI run."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("kaohe")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.failed: dict[str, PluginInfo] = {}

    # -- loading -------------------------------------------------------------------------
    def load(self, disabled: list[str] | None = None, required: list[str] | None = None,
             extra: dict[str, Any] | None = None) -> PluginHost:
        disabled_set = set(disabled or [])
        for ep in md.entry_points(group=GROUP):
            if ep.name in disabled_set or ep.name in self.plugins:
                continue
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must not take the others down
                info = PluginInfo(ep.name, ep.value, version, dist, error=f"{type(exc).__name__}: {exc}")
                self.failed[ep.name] = info
                log.error("plugin %s failed to import: %s", ep.name, info.error)
                continue
            self.register(ep.name, module, version=version, distribution=dist)
        for name, module in (extra or {}).items():
            self.register(name, module)
        missing = [name for name in (required or []) if name not in self.plugins]
        for name in missing:
            if name in self.failed:
                raise PluginError(f"required plugin '{name}' failed to import: {self.failed[name].error}")
            if name in disabled_set:
                raise PluginError(f"required plugin '{name}' is disabled in settings [plugins]")
            raise PluginError(f"required plugin '{name}' is not installed (entry point group '{GROUP}')")
        return self

    def register(self, name: str, module: Any, version: str = "?", distribution: str = "?") -> None:
        try:
            self.pm.register(module, name=name)
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(name=name)
            raise PluginError(f"plugin '{name}': {exc}") from None
        # Typos like `kaohe_page` are not hooks pluggy knows: catch them here.
        for attr in dir(module):
            if attr.startswith("kaohe_") and not hasattr(self.pm.hook, attr):
                self.pm.unregister(name=name)
                raise PluginError(f"plugin '{name}': unknown hook implementation '{attr}'")
        try:
            self._check_indicator_keys(name)
        except PluginError:
            self.pm.unregister(name=name)
            raise
        self.plugins[name] = PluginInfo(name, getattr(module, "__name__", name), version, distribution)

    def _check_indicator_keys(self, name: str) -> None:
        """Indicator keys name their plugin (`coverage.org_rate`) and are the platform's
        only: a ranking scheme refers to them by key, so two sources of one key would make
        its value depend on the load order."""
        taken: dict[str, str] = {}
        mine: list[str] = []
        for impl in self.pm.hook.kaohe_indicator_sources.get_hookimpls():
            keys = [getattr(src, "key", None) for src in impl.function() or []]
            if impl.plugin_name == name:
                mine = keys
            else:
                taken.update({key: impl.plugin_name for key in keys})
        for key in mine:
            if not isinstance(key, str) or not key.startswith(f"{name}.") or key == f"{name}.":
                raise PluginError(f"plugin '{name}': indicator key {key!r} must start with "
                                  f"'{name}.'")
            if key in taken:
                raise PluginError(f"plugin '{name}': indicator key '{key}' is already provided "
                                  f"by plugin '{taken[key]}'")
            if mine.count(key) > 1:
                raise PluginError(f"plugin '{name}': indicator key '{key}' is listed twice")

    # -- calling -------------------------------------------------------------------------
    def per_plugin(self, hook: str, **kwargs: Any) -> dict[str, Any]:
        """Call a hook plugin by plugin, so the host knows who contributed what."""
        out: dict[str, Any] = {}
        for impl in reversed(getattr(self.pm.hook, hook).get_hookimpls()):
            out[impl.plugin_name] = impl.function(**{k: kwargs[k] for k in impl.argnames})
        return out

    def collect(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Flatten list-returning hooks into (plugin, item) pairs."""
        items: list[tuple[str, Any]] = []
        for name, result in self.per_plugin(hook, **kwargs).items():
            for item in result or []:
                items.append((name, item))
        return items

    async def acollect(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        items: list[tuple[str, Any]] = []
        for name, result in self.per_plugin(hook, **kwargs).items():
            if inspect.isawaitable(result):
                result = await result
            for item in result or []:
                items.append((name, item))
        return items

    def describe(self) -> list[PluginInfo]:
        """Each loaded plugin with what it contributes, for `kaohe plugins` and /api/plugins."""
        hooks = [h for h in dir(self.pm.hook) if h.startswith("kaohe_")]
        for info in self.plugins.values():
            info.contributes = {}
        for hook in hooks:
            for impl in getattr(self.pm.hook, hook).get_hookimpls():
                if impl.plugin_name in self.plugins:
                    self.plugins[impl.plugin_name].contributes.setdefault("hooks", []).append(hook)
        return list(self.plugins.values()) + list(self.failed.values())


_current: PluginHost | None = None


def set_host(host: PluginHost) -> None:
    """The host of the running process; services reach plugins through it."""
    global _current
    _current = host


def get_host() -> PluginHost:
    if _current is None:
        raise RuntimeError("no plugin host is loaded")
    return _current
