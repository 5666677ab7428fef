"""Self-assessment (自评) and review (牵头部门审核评分).

Within a period's window a unit's officer enters the unit's value for each indicator the
definition marks self-assessed, with an explanation and evidence files; the value goes into
the ranking's values with origin `self`. A reviewer of the lead department responsible for the
indicator (an assignment kept here, beside the platform's roles) accepts it or changes it with
a reason; the value then has origin `reviewed`. Late and missing self-assessments are listed.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from core import audit, clock
from core.accounts import User
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.orgs import OrgUnit
from plugins.ranking import annual_models as am
from plugins.ranking import models
from plugins.ranking.annual import current_annual
from plugins.ranking.scoring import num
from plugins.ranking.services import get_group, group_units, today
from plugins.ranking.values import Entry, parse_value, set_values

MAX_FILES = 10
MAX_BYTES = 10 * 1024 * 1024
MAGIC = {"pdf": (b"%PDF",), "png": (b"\x89PNG",), "jpg": (b"\xff\xd8",), "jpeg": (b"\xff\xd8",),
         "docx": (b"PK",), "xlsx": (b"PK",)}
SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")

# What each origin of a value means to a reader (message keys of ranking.provenance.*).
PROVENANCE = {"self": "self", "reviewed": "reviewed", "upload": "imported", "import": "imported"}


def provenance(origin: str | None, source: str = "manual") -> str:
    """self, reviewed, imported, plugin or entered: where a value came from."""
    if source.startswith("plugin:"):
        return "plugin"
    return PROVENANCE.get(origin or "", "entered")


async def reviewer_indicators(user: User) -> set[str]:
    return set(await am.ReviewerAssignment.filter(user=user).values_list("indicator", flat=True))


async def assign_reviewer(username: str, indicators: list[str], department: str,
                          actor: str | None = None) -> list[am.ReviewerAssignment]:
    """Make an account the reviewer of these self-assessed indicators (all or none)."""
    _, scheme, a = await current_annual()
    user = await User.get_or_none(username=username, is_active=True)
    if user is None:
        raise Invalid("unknown_user", f"user: no active account '{username}'", field="user")
    if user.role == "leader":
        raise Invalid("reviewer_role", "user: leaders are read-only and cannot review",
                      field="user")
    bad = [k for k in indicators if k not in a.self_indicators]
    if bad or not indicators:
        raise Invalid("not_self_assessed", f"indicators: {', '.join(bad) or '(none)'} not "
                                           f"marked self-assessed", field="indicators")
    if not (department or "").strip():
        raise Invalid("department_required", "department: name the lead department",
                      field="department")
    out = []
    async with in_transaction():
        for key in indicators:
            row, _ = await am.ReviewerAssignment.get_or_create(
                user=user, indicator=key, defaults={"department": department.strip()})
            out.append(row)
        await audit.record("ranking.reviewer.assign", "ranking_reviewer", username,
                           after={"indicators": indicators, "department": department.strip()},
                           actor=actor)
    return out


def _evidence_folder(settings: Any) -> Path:
    if settings is None:
        return Path("data/evidence/ranking")
    return settings.path(settings.storage.evidence_dir) / "ranking"


def check_files(files: list[tuple[str, bytes]]) -> None:
    if len(files) > MAX_FILES:
        raise Invalid("too_many_files", f"evidence: at most {MAX_FILES} files", field="evidence")
    for name, data in files:
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if ext not in MAGIC and ext != "txt":
            raise Invalid("evidence_type", f"evidence: '{name}' is not one of "
                                           f"{', '.join([*MAGIC, 'txt'])}", field="evidence",
                              params={"name": name, "allowed": "、".join([*MAGIC, "txt"])})
        if not data or len(data) > MAX_BYTES:
            raise Invalid("evidence_size", f"evidence: '{name}' is empty or larger than "
                                           f"{MAX_BYTES // 1024 // 1024} MB", field="evidence")
        if ext != "txt" and not data.startswith(MAGIC[ext]):
            raise Invalid("evidence_type", f"evidence: the content of '{name}' is not a {ext} "
                                           f"file", field="evidence",
                              params={"name": name, "allowed": ext})


def store_files(files: list[tuple[str, bytes]], settings: Any) -> list[dict[str, Any]]:
    """Files are stored under their SHA-256: the same file twice is kept once."""
    folder = _evidence_folder(settings)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, data in files:
        sha = hashlib.sha256(data).hexdigest()
        target = folder / sha
        if not target.exists():
            target.write_bytes(data)
        out.append({"name": SAFE_NAME.sub("_", Path(name).name)[:120], "sha256": sha,
                    "size": len(data)})
    return out


async def _unit_group(scheme: Any, unit: OrgUnit) -> str:
    for g in scheme.groups:
        if any(u.code == unit.code for u in await group_units(g)):
            return g.key
    raise Invalid("unit_not_ranked", f"unit: '{unit.code}' is in no peer group", field="unit")


async def _mark(period: str, unit: str, indicator: str, origin: str, actor: str) -> None:
    """The value's provenance even when the value itself did not change (an accepted value,
    or a unit entering the figure already there): set_values writes only changed values."""
    await models.IndicatorValue.filter(period=period, unit_code=unit, indicator=indicator) \
        .update(origin=origin, updated_by=actor)


async def submit(user: User, period: str, unit_code: str, indicator: str, raw: Any,
                 explanation: str, files: list[tuple[str, bytes]] | None = None,
                 settings: Any = None) -> am.SelfAssessment:
    """A unit's own value: refused outside the window, for an indicator not self-assessed,
    for a unit outside the officer's, without an explanation; nothing half-saved."""
    from core.scope import scope_for

    _, scheme, a = await current_annual()
    ind = scheme.by_key.get(indicator)
    if ind is None or indicator not in a.self_indicators:
        raise Invalid("not_self_assessed", f"indicator: '{indicator}' is not marked "
                                           f"self-assessed (ranking.annual.self_assessment)",
                      field="indicator")
    window = a.window(period)
    day = today()
    if window is None:
        raise Invalid("no_window", f"period: no self-assessment window for '{period}'",
                      field="period")
    if not window.opens <= day <= window.closes:
        raise Invalid("window_closed", f"period: the self-assessment window of {period} is "
                                       f"{window.opens} to {window.closes} (today {day})",
                      field="period")
    unit = await OrgUnit.get_or_none(code=unit_code)
    if unit is None:
        raise Invalid("unknown_unit", f"unit: no unit '{unit_code}'", field="unit")
    scope = await scope_for(user)
    if user.role != "admin" and not (scope.kind == "subtree" and scope.allows_unit_path(unit.path)):
        raise Forbidden("out_of_scope", f"unit: you may assess only your own unit, not "
                                        f"'{unit_code}'", field="unit")
    value, problem = parse_value(ind, raw)
    if problem or value is None:
        raise Invalid("bad_value", f"value: {ind.name}: {problem or 'a value is needed'}",
                      field="value")
    if not (explanation or "").strip():
        raise Invalid("explanation_required", "explanation: explain the value (自评说明)",
                      field="explanation")
    files = files or []
    check_files(files)
    existing = await am.SelfAssessment.get_or_none(period=period, unit_code=unit_code,
                                                   indicator=indicator)
    if existing is not None and existing.status != "submitted":
        raise Conflict("already_reviewed", f"indicator: '{indicator}' of {period} was already "
                                           f"reviewed by {existing.reviewed_by}", field="indicator")
    group = await _unit_group(scheme, unit)
    evidence = store_files(files, settings)
    async with in_transaction():
        await set_values(period, group, [Entry(unit_code, indicator, value)], origin="self",
                         actor=user.username)
        await _mark(period, unit_code, indicator, "self", user.username)
        fields = dict(value=value, explanation=explanation.strip(),
                      evidence=evidence or (existing.evidence if existing else []),
                      submitted_by=user.username, submitted_at=clock.now())
        if existing is None:
            sa = await am.SelfAssessment.create(period=period, unit_code=unit_code,
                                                indicator=indicator, **fields)
        else:
            await am.SelfAssessment.filter(id=existing.id, status="submitted").update(**fields)
            sa = await am.SelfAssessment.get(id=existing.id)
        await audit.record("ranking.self.submit", "ranking_self_assessment", sa.id,
                           after={"period": period, "unit": unit_code, "indicator": indicator,
                                  "value": num(value), "files": len(evidence)},
                           actor=user.username)
    return sa


async def review(user: User, sa_id: int, decision: str, raw: Any = None,
                 reason: str = "") -> am.SelfAssessment:
    """Accept a self-assessed value, or change it with a reason; only the indicator's
    reviewers (and admins) may."""
    sa = await am.SelfAssessment.get_or_none(id=sa_id)
    if sa is None:
        raise NotFound("unknown_self_assessment", f"self-assessment: no entry #{sa_id}")
    if user.role != "admin" and sa.indicator not in await reviewer_indicators(user):
        raise Forbidden("not_reviewer", f"indicator: you review "
                                        f"{', '.join(sorted(await reviewer_indicators(user))) or 'no indicators'}, "
                                        f"not '{sa.indicator}'", field="indicator")
    if decision not in ("accept", "change"):
        raise Invalid("bad_decision", f"decision: '{decision}' is not accept or change",
                      field="decision")
    if sa.status != "submitted":
        raise Conflict("already_reviewed", f"self-assessment #{sa.id} was already reviewed",
                       field="decision")
    _, scheme, _ = await current_annual()
    ind = scheme.by_key[sa.indicator]
    value = sa.value
    if decision == "change":
        value, problem = parse_value(ind, raw)
        if problem or value is None:
            raise Invalid("bad_value", f"value: {ind.name}: {problem or 'a value is needed'}",
                          field="value")
        if not (reason or "").strip():
            raise Invalid("reason_required", "reason: a changed value needs a reason",
                          field="reason")
    unit = await OrgUnit.get(code=sa.unit_code)
    group = await _unit_group(scheme, unit)
    async with in_transaction():
        await set_values(sa.period, group, [Entry(sa.unit_code, sa.indicator, value)],
                         origin="reviewed", actor=user.username)
        await _mark(sa.period, sa.unit_code, sa.indicator, "reviewed", user.username)
        if not await am.SelfAssessment.filter(id=sa.id, status="submitted").update(
                status="accepted" if decision == "accept" else "changed", reviewed_value=value,
                review_reason=(reason or "").strip(), reviewed_by=user.username,
                reviewed_at=clock.now()):
            raise Conflict("already_reviewed", f"self-assessment #{sa.id} was reviewed "
                                               f"meanwhile", field="decision")
        await audit.record("ranking.self.review", "ranking_self_assessment", sa.id,
                           before={"value": num(sa.value)},
                           after={"value": num(value), "decision": decision},
                           reason=(reason or "").strip(), actor=user.username)
    return await am.SelfAssessment.get(id=sa.id)


async def status(period: str, group_key: str) -> dict[str, Any]:
    """Every unit × self-assessed indicator of a period: submitted, reviewed, late or missing."""
    _, scheme, a = await current_annual()
    group = get_group(scheme, group_key)
    units = await group_units(group)
    window = a.window(period)
    entries = {(s.unit_code, s.indicator): s for s in await am.SelfAssessment.filter(
        period=period, unit_code__in=[u.code for u in units])}
    closed = window is not None and today() > window.closes
    rows, outstanding = [], []
    for u in units:
        for key in a.self_indicators:
            s = entries.get((u.code, key))
            state = s.status if s else ("late" if closed else "missing")
            item = {"unit_code": u.code, "unit_name": u.name, "indicator": key,
                    "name": scheme.by_key[key].name, "state": state, "entry": s}
            rows.append(item)
            if s is None:
                outstanding.append(item)
    return {"period": period, "group": group.key, "window": window, "rows": rows,
            "outstanding": outstanding}


async def queue(user: User) -> list[am.SelfAssessment]:
    """What this reviewer still has to review."""
    qs = am.SelfAssessment.filter(status="submitted")
    if user.role != "admin":
        qs = qs.filter(indicator__in=list(await reviewer_indicators(user)))
    return await qs.order_by("period", "unit_code", "indicator")


async def origins(period: str, codes: list[str]) -> dict[tuple[str, str], models.IndicatorValue]:
    rows = await models.IndicatorValue.filter(period=period, unit_code__in=codes)
    return {(r.unit_code, r.indicator): r for r in rows}
