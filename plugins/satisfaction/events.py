"""The complaint event (satisfaction.complaint): announced after the response is stored.

`announce` is the one place the plugin hands an event to the platform; a response whose
announcement failed stays unannounced and the retry job tries again (listeners de-duplicate
by the event key).
"""

from __future__ import annotations

import logging

from core import clock, events
from core.contrib import DomainEvent
from core.orgs import OrgUnit
from plugins.satisfaction.models import Response, Survey

log = logging.getLogger("kaohe.satisfaction")
NAME = "satisfaction.complaint"


async def announce(event: DomainEvent) -> None:
    """Stored in the core event store (one key per response) and delivered; a listener that
    fails is retried by the core.events job."""
    await events.publish(event)


def complaint_event(response: Response, survey: Survey, unit: OrgUnit) -> DomainEvent:
    question = next((q for q in survey.spec["questions"]
                     if q.get("complaint") and response.answers.get(q["key"]) == response.complaint),
                    None)
    return DomainEvent(
        name=NAME, key=f"{NAME}:{response.id}", source="satisfaction",
        payload={"response_id": response.id, "survey": survey.key, "survey_title": survey.title,
                 "period": survey.period.code, "unit_code": unit.code, "unit_name": unit.name,
                 "question": question["text"] if question else "", "text": response.complaint,
                 "flags": [f for f in response.flags.split(",") if f],
                 "received_at": response.received_at.isoformat(),
                 "link": f"/satisfaction/responses/{response.id}"})


async def announce_complaint(response: Response, survey: Survey, unit: OrgUnit) -> bool:
    """Announce; mark the response announced only when every listener returned."""
    try:
        await announce(complaint_event(response, survey, unit))
    except Exception:  # the response stands; the retry job announces it later
        log.exception("announcing complaint of response %s failed", response.id)
        return False
    await Response.filter(id=response.id).update(complaint_announced_at=clock.now())
    return True


async def announce_pending(limit: int = 500) -> dict[str, int]:
    rows = await Response.filter(complaint_announced_at__isnull=True).exclude(
        complaint="").order_by("id").limit(limit).prefetch_related("survey__period", "unit")
    sent = 0
    for r in rows:
        sent += await announce_complaint(r, r.survey, r.unit)
    return {"pending": len(rows), "announced": sent}
