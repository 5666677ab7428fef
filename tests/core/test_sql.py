"""The dialect helper every raw statement uses: numbered marks that may repeat, literals,
dates and id lists, on the database under test."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from core.sql import Sql

pytestmark = pytest.mark.usefixtures("db")
ROOT = Path(__file__).resolve().parents[2]


async def test_marks_literals_and_ids_run_on_this_database():
    q = Sql()
    rows = await q.rows(f"SELECT {q.p(1)} AS a, {q.p(2)} AS b, {q.p(1)} AS again, "
                        f"{q.true} AS yes, {q.false} AS no", "x", "y")
    assert rows[0]["a"] == rows[0]["again"] == "x" and rows[0]["b"] == "y"
    assert bool(rows[0]["yes"]) is True and bool(rows[0]["no"]) is False
    from core.orgs import ensure_unit

    units = [(await ensure_unit(f"9{i}", f"u{i}", "district"))[0] for i in range(3)]
    where, params = q.in_ids("id", 1, [units[0].id, units[2].id])
    found = await q.rows(f"SELECT code FROM core_org_unit WHERE {where} ORDER BY code", *params)
    assert [r["code"] for r in found] == ["90", "92"]
    from core.orgs import ensure_period

    await ensure_period("2014")
    got = await q.rows(f"SELECT code FROM core_period WHERE start <= {q.p(1)} AND "
                       f"{q.p(1)} <= \"end\"", q.d(dt.date(2014, 12, 31)))
    assert [r["code"] for r in got] == ["2014"]
    assert q.marks(3, start=2) == ", ".join(q.p(i) for i in (2, 3, 4))


def test_no_module_asks_the_connection_for_its_dialect():
    """Raw SQL learns its dialect from core.sql only (migrations keep their frozen text)."""
    offenders = []
    for path in [*(ROOT / "core").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]:
        # core/db.py configures the connections themselves
        if "migrations" in path.parts or path.name in ("sql.py", "db.py"):
            continue
        if "capabilities.dialect" in path.read_text(encoding="utf-8"):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
