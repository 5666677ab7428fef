"""A tiny listener plugin: records every domain event it hears (registered by tests)."""

from core.hookspecs import hookimpl

HEARD: list = []


@hookimpl
def kaohe_event(event):
    HEARD.append(event)
