"""Typed, bounded request parameters, so bad input is refused at the boundary with the field
named (400) instead of reaching the database (an id beyond 64 bits, or a filter longer than
its column, made SQLite, asyncpg or Tortoise raise and the request ended in a 500).

Handlers write `task_id: Id`, `page: PageNo`, `status: choice(STATUSES)`, `period: PeriodCode`.
The bounds then also appear in /schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from litestar.params import Parameter

# Ids are exact in every JSON reader up to 2**53 - 1 (and far inside a 64-bit column).
MAX_ID = 2**53 - 1

Id = Annotated[int, Parameter(ge=1, le=MAX_ID, description="编号 (1 – 2^53−1)")]
PageNo = Annotated[int, Parameter(ge=1, le=1_000_000, description="页码，从 1 开始")]
PageSize = Annotated[int, Parameter(ge=1, le=200, description="每页条数 (1 – 200)")]  # paging.SIZES


def text(max_length: int, description: str = "") -> Any:
    """A free-text filter no longer than its column."""
    return Annotated[str | None, Parameter(max_length=max_length, description=description or None)]


def choice(values: Iterable[str], description: str = "") -> Any:
    """A filter that takes one of `values`; empty means no filter."""
    allowed = tuple(dict.fromkeys(("", *values)))
    return Annotated[Literal[allowed] | None,  # type: ignore[valid-type]
                     Parameter(description=description or "空 = 不筛选")]


PeriodCode = text(16, "考核期代码，如 2014、2014H1、2014Q3")
UnitCode = text(32, "单位代码，如 520102")
Slug = text(48)  # group names, exporter and job names (the longest column is 48)
Token = text(128)
Search = text(100, "搜索文字")
Code12 = text(12)


_PROBLEMS = (
    (re.compile(r"Expected `int` <= (\d+)"), "params.max"),
    (re.compile(r"Expected `int` >= (\d+)"), "params.min"),
    (re.compile(r"Expected `str` of length <= (\d+)"), "params.max_length"),
    (re.compile(r"Invalid enum value '(.*)'"), "params.choice"),
    (re.compile(r"Object missing required field `(.*)`"), "params.missing"),
    (re.compile(r"Object contains unknown field `(.*)`"), "params.unknown_field"),
    (re.compile(r"Expected `(\w+)[^`]*`, got `(\w+)`"), "params.type"),
    (re.compile(r"Expected `int`"), "params.integer"),
    (re.compile(r"Invalid RFC3339 encoded date"), "params.date"),  # a body field typed dt.date
)
_FIELD_OF = re.compile(r"(?:missing required|contains unknown) field `(.*)`")


def describe(problem: str, lang: str) -> str:
    """The validator's English problem as a sentence of the catalog (the original otherwise)."""
    from core import i18n

    for pattern, key in _PROBLEMS:
        found = pattern.search(problem)
        if found:
            if key == "params.type":
                kind = lambda name: i18n.t(f"params.kind_{name}", lang)  # noqa: E731
                return i18n.t(key, lang, want=kind(found.group(1)), got=kind(found.group(2)))
            return i18n.t(key, lang, value=found.group(1) if found.groups() else "")
    return problem


def field_of(key: str, problem: str) -> str:
    """The body field a problem is about: the validator names the object holding it ("data"
    for the body, "recipients[0]" for an item) when a field is missing or unknown."""
    found = _FIELD_OF.search(problem)
    if not found:
        return key
    return found.group(1) if key == "data" else f"{key}.{found.group(1)}"


def path_text(max_length: int) -> Any:
    """A text path parameter no longer than the column it is looked up in."""
    return Annotated[str, Parameter(max_length=max_length)]


UnitCodeInPath = path_text(32)
