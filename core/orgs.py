"""Org units (city → district → community → committee → grid) and assessment periods."""

from __future__ import annotations

import datetime as dt
import re

from tortoise import fields
from tortoise.models import Model

LEVELS = ["city", "district", "community", "committee", "grid"]
PERIOD_RE = re.compile(r"^(\d{4})(?:(H[12])|(Q[1-4])|-(0[1-9]|1[0-2]))?$")


class OrgUnit(Model):
    id = fields.IntField(primary_key=True)
    # GB/T 2260 division code for county level and above; stable local codes below.
    code = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=100)
    level = fields.CharField(max_length=16)
    parent: fields.ForeignKeyNullableRelation[OrgUnit] = fields.ForeignKeyField(
        "core.OrgUnit", related_name="children", null=True, on_delete=fields.RESTRICT
    )
    # Materialized path "/520100/520102/" makes subtree queries one LIKE.
    path = fields.CharField(max_length=255, db_index=True)
    sort_order = fields.IntField(default=0)
    households = fields.IntField(null=True)
    active = fields.BooleanField(default=True)

    class Meta:
        table = "core_org_unit"
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return f"{self.name}({self.code})"


class Period(Model):
    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=16, unique=True)
    kind = fields.CharField(max_length=12)  # year, half, quarter, month
    start = fields.DateField()
    end = fields.DateField()
    status = fields.CharField(max_length=8, default="open")  # open, closed
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "core_period"
        ordering = ["start", "code"]

    @property
    def is_closed(self) -> bool:
        return self.status == "closed"


class PeriodClosedError(Exception):
    """Writes to a closed period are refused for everyone."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def parse_period(code: str) -> tuple[str, dt.date, dt.date]:
    """'2014' → year; '2014H1' half; '2014Q3' quarter; '2014-05' month. Returns (kind, start, end)."""
    m = PERIOD_RE.match(code or "")
    if not m:
        raise ValueError(f"period code '{code}' is not one of 2014, 2014H1, 2014Q3, 2014-05")
    year = int(m.group(1))
    if m.group(2):
        h = int(m.group(2)[1])
        start, end_month, kind = dt.date(year, 6 * h - 5, 1), 6 * h, "half"
    elif m.group(3):
        q = int(m.group(3)[1])
        start, end_month, kind = dt.date(year, 3 * q - 2, 1), 3 * q, "quarter"
    elif m.group(4):
        mo = int(m.group(4))
        start, end_month, kind = dt.date(year, mo, 1), mo, "month"
    else:
        start, end_month, kind = dt.date(year, 1, 1), 12, "year"
    nxt = dt.date(year + (end_month == 12), end_month % 12 + 1, 1)
    return kind, start, nxt - dt.timedelta(days=1)


async def ensure_period(code: str, status: str = "open") -> Period:
    kind, start, end = parse_period(code)
    period, _ = await Period.get_or_create(code=code, defaults={
        "kind": kind, "start": start, "end": end, "status": status})
    return period


async def get_open_period(code: str) -> Period:
    """The period for a write; raises PeriodClosedError when it is closed."""
    period = await Period.get(code=code)
    if period.is_closed:
        raise PeriodClosedError(code)
    return period


async def subtree(unit: OrgUnit, level: str | None = None) -> list[OrgUnit]:
    qs = OrgUnit.filter(path__startswith=unit.path)
    if level:
        qs = qs.filter(level=level)
    return await qs


async def ensure_unit(code: str, name: str, level: str, parent: OrgUnit | None = None,
                      sort_order: int = 0, households: int | None = None) -> tuple[OrgUnit, bool]:
    """Create or update one unit by code; returns (unit, changed)."""
    if level not in LEVELS:
        raise ValueError(f"unit {code}: level '{level}' is not one of {', '.join(LEVELS)}")
    path = f"{parent.path if parent else '/'}{code}/"
    unit = await OrgUnit.get_or_none(code=code)
    if unit is None:
        unit = await OrgUnit.create(code=code, name=name, level=level, parent=parent, path=path,
                                    sort_order=sort_order, households=households)
        return unit, True
    changed = (unit.name, unit.level, unit.parent_id, unit.path, unit.sort_order) != (
        name, level, parent.id if parent else None, path, sort_order)
    if changed:
        unit.name, unit.level, unit.parent, unit.path, unit.sort_order = name, level, parent, path, sort_order
        await unit.save()
    return unit, changed
