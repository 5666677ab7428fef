"""The 通报批评 of an accountability record as an official document (core.documents).

The record is `options["record"]` (an id) or else the latest standing 通报批评 (measure
"circulate") of the period, within the request's unit.
"""

from __future__ import annotations

from typing import Any

from core import clock, i18n
from core.contrib import ExportRequest
from core.documents import OfficialDocument, office, render
from core.errors import Invalid, NotFound
from plugins.accountability.models import Record

STANDING = ("approved", "carried_out", "closed")


async def _record(request: ExportRequest) -> Record:
    qs = Record.filter(measure="circulate", status__in=STANDING).select_related("unit")
    if request.options.get("record"):
        try:
            ident = int(request.options["record"])
        except ValueError:
            raise Invalid("bad_record", f"record: '{request.options['record']}' is not a "
                                        "record number", field="record") from None
        record = await Record.get_or_none(id=ident).select_related("unit")
        if record is None:
            raise NotFound("unknown_record", f"record: no accountability record {ident}",
                           field="record")
        return record
    if request.period:
        qs = qs.filter(period=request.period)
    if request.unit:
        from core.orgs import OrgUnit

        unit = await OrgUnit.get(code=request.unit)
        qs = qs.filter(unit__path__startswith=unit.path)
    record = await qs.order_by("-id").first()
    if record is None:
        raise NotFound("no_record", f"period: no approved 通报批评 record for period "
                                    f"'{request.period or '-'}'", field="period")
    return record


async def build_criticism(request: ExportRequest) -> bytes:
    lang = "zh"  # 公文 are Chinese
    record = await _record(request)
    office_ = await office()
    unit = record.unit.name
    who = unit + (f"{record.responsible_person}同志" if record.responsible_person else "")
    trigger = i18n.t(f"accountability.trigger.{record.trigger_type}", lang)
    fact = record.trigger_title or trigger
    ref = f"（{record.trigger_ref}）" if record.trigger_ref else ""
    moment = record.approved_at or clock.now()
    day = record.carried_out_on or moment.astimezone(clock.tz()).date()
    body: list[Any] = [
        f"{record.period + '考核期，' if record.period else ''}{unit}{fact}{ref}"
        f"（{trigger}）。",
        f"按照责任追究制的规定，经研究决定，对{who}予以通报批评，并在综合目标考核中扣"
        f"{format(record.points.normalize(), 'f')}分。",
    ]
    if record.reason:
        body.append(f"具体情况：{record.reason}")
    body += [f"{unit}要认真吸取教训，深刻反思，于15个工作日内将整改情况书面报告市委组织部。",
             "各单位要引以为戒，举一反三，切实履行工作职责，确保各项任务按期落实。"]
    doc = OfficialDocument(title=f"关于对{who}的通报批评", body=body, date=day,
                           seq=int(request.options.get("seq") or record.id),
                           kind_note="通报批评")
    return render(doc, office_)
