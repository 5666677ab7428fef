"""Rules and queries, used alike by routes, the job and the exporter (no web imports)."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from core import audit
from core.errors import Invalid, NotFound
from core.orgs import OrgUnit
from kaohe_example.models import Note


async def add_note(text: str, unit_code: str | None, by: str) -> Note:
    text = (text or "").strip()
    if not text:
        raise Invalid("text_required", "text: a note needs some text", field="text")
    if len(text) > 500:
        raise Invalid("text_too_long", "text: at most 500 characters", field="text")
    unit = None
    if unit_code:
        unit = await OrgUnit.get_or_none(code=unit_code)
        if unit is None:
            raise NotFound("unknown_unit", f"unit: no org unit with code '{unit_code}'",
                           field="unit")
    async with in_transaction():
        note = await Note.create(text=text, unit=unit, created_by=by)
        await audit.record("example.note.create", "example_note", note.id,
                           after=audit.snapshot(note))
    return note


async def notes(limit: int = 500) -> list[dict]:
    rows = await Note.all().select_related("unit").limit(limit)
    return [{"id": n.id, "text": n.text, "unit": n.unit.code if n.unit else None,
             "unit_name": n.unit.name if n.unit else "", "seen": n.seen,
             "created_by": n.created_by, "created_at": n.created_at} for n in rows]


async def mark_all_seen() -> int:
    """One set-based UPDATE; the audit trail still gets one entry per note."""
    return await audit.update_audited(Note.filter(seen=False), "example.note.seen", seen=True)
