"""Shared set-up for the ranking tests: a small definition, a stub indicator source."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

from core.contrib import IndicatorSource
from core.hookspecs import hookimpl

HERE = Path(__file__).parent
GUIYANG = HERE.parent.parent.parent / "assessments" / "guiyang-2014.toml"
DISTRICTS = ["520102", "520103", "520111", "520112"]

# What the stub plugin returns for stub.rate: tests set it per unit.
STUB_VALUES: dict[str, Any] = {}

BASE = """
[assessment]
slug = "t-ranking"
title = "排位测试"
year = 2014

[[units]]
code = "520100"
name = "贵阳市"
level = "city"

[[units]]
code = "520102"
name = "南明区"
level = "district"
parent = "520100"

[[units]]
code = "520103"
name = "云岩区"
level = "district"
parent = "520100"

[[units]]
code = "520111"
name = "花溪区"
level = "district"
parent = "520100"

[[units]]
code = "520112"
name = "乌当区"
level = "district"
parent = "520100"

[[units]]
code = "520102001"
name = "花果园社区"
level = "community"
parent = "520102"

[[periods]]
code = "2013"

[[periods]]
code = "2014"
"""

RANKING = """
[ranking]
missing = "{missing}"
top_n = 1
bottom_n = 1
objection_days = {objection_days}

[[ranking.groups]]
key = "districts"
name = "区（市、县）"
level = "district"
within = "520100"

[[ranking.groups]]
key = "communities"
name = "社区"
level = "community"

[[ranking.aspects]]
key = "people"
name = "满意度"
weight = 60

[[ranking.aspects.indicators]]
key = "sat"
name = "群众满意度"
unit = "%"
source = "manual"
method = "ratio"
target = 80
weight = 50
core = true

[[ranking.aspects.indicators]]
key = "sec"
name = "安全感"
unit = "%"
source = "import"
method = "bands"
bands = [{{ threshold = 90, score = 100 }}, {{ threshold = 80, score = 80 }}, {{ threshold = 0, score = 60 }}]
weight = 50

[[ranking.aspects]]
key = "gov"
name = "治理"
weight = 40

[[ranking.aspects.indicators]]
key = "cases"
name = "案件数"
unit = "件"
direction = "lower"
source = "manual"
method = "minmax"
integer = true
range = [0, 10000]
weight = 50

[[ranking.aspects.indicators]]
key = "rate"
name = "整改按期率"
unit = "%"
source = "plugin:stub.rate"
method = "ratio"
target = 100
weight = 50
"""


def definition(missing: str = "zero", objection_days: int = 0, extra: str = "") -> str:
    return BASE + RANKING.format(missing=missing, objection_days=objection_days) + extra


def stub_plugin() -> types.ModuleType:
    async def values(period: str, units: list[str]) -> dict[str, Any]:
        return {u: STUB_VALUES.get(u) for u in units}

    module = types.ModuleType("stub_ranking_sources")

    @hookimpl
    def kaohe_indicator_sources():
        return [IndicatorSource("stub.rate", "整改按期率（测试）", "%", values)]

    module.kaohe_indicator_sources = kaohe_indicator_sources
    return module


def add_stub(host) -> None:
    if "stub" not in host.plugins:
        host.register("stub", stub_plugin())


async def apply(host, text: str | None = None):
    from core import assessments
    from core.audit import acting_as

    add_stub(host)
    with acting_as("test"):
        return await assessments.apply(text or definition(), host, applied_by="test")


async def enter(period: str, group: str, values: dict[tuple[str, str], Any]):
    from plugins.ranking.values import Entry, set_values

    return await set_values(period, group, [Entry(u, k, v) for (u, k), v in values.items()],
                            origin="api", actor="test")


# Values of the standard scenario (2014, districts) and what each scores by hand.
SCENARIO = {
    # unit: (sat, sec, cases, rate)
    "520102": (84, 92, 10, 100),
    "520103": (72, 85, 30, 90),
    "520111": (80, 79.5, 20, 95),
    "520112": (60, 95, 50, 80),
}


def scenario_values() -> dict[tuple[str, str], Any]:
    STUB_VALUES.clear()
    out = {}
    for unit, (sat, sec, cases, rate) in SCENARIO.items():
        out[(unit, "sat")] = sat
        out[(unit, "sec")] = sec
        out[(unit, "cases")] = cases
        STUB_VALUES[unit] = rate
    return out
