"""A complaint the rectification plugin cannot register is refused with its reason (kept with
the delivery for the admins' page), not dropped in silence."""

from __future__ import annotations

from core import events
from core.contrib import DomainEvent
from plugins.rectification.models import Task
from tests.conftest import seed_units


def _complaint(n: int, **payload) -> DomainEvent:
    body = {"response_id": n, "unit_code": "520102", "period": "2014", "text": "路灯不亮",
            "link": "/satisfaction/x", **payload}
    return DomainEvent("satisfaction.complaint", f"satisfaction.complaint:{n}", body,
                       "satisfaction")


async def test_unknown_unit_or_bad_payload_is_refused_with_the_reason(db):
    await seed_units()
    report = await events.publish(_complaint(1, unit_code="520199"))
    result = report.result_of("rectification")
    assert result["status"] == "refused" and "520199" in result["message"]
    report = await events.publish(_complaint(2, response_id="abc"))
    assert report.result_of("rectification")["status"] == "refused"
    assert not await Task.exists()
    report = await events.publish(_complaint(3))
    assert report.result_of("rectification")["model"] == "Task"
