"""Instructor assignments for admins: assigning and ending them on an organization's page,
ending all of a user's when the account is disabled or given another role (hook
`kaohe_user_leaves_role`, in the disabling transaction), and reassigning the organizations
that were left without an instructor. Every change is audited per organization.

An assignment counts on a day from its start_on (open when null) up to the day before its
end_on, so one ended today stops counting today, in the figures and in compliance alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tortoise.transactions import in_transaction

from core import audit, i18n
from core.accounts import User
from core.contrib import Notice
from core.errors import FieldsInvalid
from plugins.coverage.models import InstructorAssignment, Organization
from plugins.coverage.registry import guard_closed_periods
from plugins.coverage.reporting import today


def _t(key: str, lang: str, **params: Any) -> str:
    return i18n.t(f"coverage.assign.{key}", lang, **params)


async def instructor_named(text: str, lang: str = i18n.DEFAULT, field: str = "instructor"
                           ) -> User:
    """An active instructor by user name, or by display name when only one has it."""
    text = (text or "").strip()
    if not text:
        raise FieldsInvalid({field: _t("err_instructor_required", lang)})
    user = await User.get_or_none(username=text[:64])
    if user is None:
        same = await User.filter(display_name=text[:100], role="instructor",
                                 is_active=True).limit(2)
        if len(same) > 1:
            raise FieldsInvalid({field: _t("err_instructor_ambiguous", lang, value=text[:64])})
        user = same[0] if same else None
    if user is None or user.role != "instructor" or not user.is_active:
        raise FieldsInvalid({field: i18n.t("coverage.err.unknown_instructor", lang,
                                           value=text[:64])})
    return user


def _start(raw: str | None, lang: str, field: str = "start_on") -> dt.date:
    text = (raw or "").strip()
    if not text:
        return today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise FieldsInvalid({field: i18n.t("coverage.err.date", lang, value=text[:20])}) from None


async def add(org: Organization, instructor_text: str, start_raw: str | None = None,
              lang: str = i18n.DEFAULT) -> InstructorAssignment:
    """Assign an instructor to one organization from a day (today unless given)."""
    errors: dict[str, str] = {}
    user = start = None
    try:
        user = await instructor_named(instructor_text, lang)
    except FieldsInvalid as exc:
        errors.update(exc.errors)
    try:
        start = _start(start_raw, lang)
    except FieldsInvalid as exc:
        errors.update(exc.errors)
    if user is not None and await InstructorAssignment.exists(
            instructor_id=user.id, organization_id=org.id, end_on=None):
        errors["instructor"] = _t("err_already", lang, name=user.display_name or user.username)
    if org.closed_on is not None:
        errors["instructor"] = i18n.t("coverage.err.org_closed", lang, name=org.name,
                                      value=org.uscc, closed_on=org.closed_on.isoformat())
    if errors:
        raise FieldsInvalid(errors)
    await guard_closed_periods()
    async with in_transaction():
        row = await InstructorAssignment.create(instructor=user, organization=org,
                                                start_on=start)
        await audit.record("coverage.assign", "coverage_org", org.uscc,
                           after={"instructor": user.username, "start_on": start})
    return row


async def end(org: Organization, assignment_id: int, lang: str = i18n.DEFAULT) -> User:
    """End one current assignment of the organization today."""
    row = await InstructorAssignment.get_or_none(id=assignment_id, organization_id=org.id,
                                                 end_on=None).select_related("instructor")
    if row is None:
        raise FieldsInvalid({"assignment": _t("err_not_current", lang)})
    await guard_closed_periods()
    day = max(today(), row.start_on or today())
    async with in_transaction():
        await InstructorAssignment.filter(id=row.id).update(end_on=day)
        await audit.record("coverage.unassign", "coverage_org", org.uscc,
                           before={"instructor": row.instructor.username, "end_on": None},
                           after={"instructor": row.instructor.username, "end_on": day})
    return row.instructor


async def end_all(user: User, reason: str) -> list[Notice]:
    """Every current assignment of the user ends today (the hook `kaohe_user_leaves_role`
    for the instructor role), inside the caller's transaction; one audit entry per
    organization. Says how many ended and how many organizations have no instructor left."""
    rows = await InstructorAssignment.filter(instructor_id=user.id, end_on=None).values(
        "id", "organization_id", "organization__uscc", "start_on")
    if not rows:
        return []
    await guard_closed_periods()  # closed periods keep the instructor they had
    day = today()
    for row in rows:
        await InstructorAssignment.filter(id=row["id"]).update(
            end_on=max(day, row["start_on"] or day))
    await audit.record_many("coverage.unassign", "coverage_org", (
        (row["organization__uscc"], {"instructor": user.username, "end_on": None},
         {"instructor": user.username, "end_on": max(day, row["start_on"] or day)})
        for row in rows), reason=audit.said(f"coverage.said.user_{reason}"))
    left = len(await orphans_of(user))
    return [Notice("coverage.assign.ended", {"n": len(rows), "left": left})]


async def current_of(user: User) -> list[Organization]:
    ids = await InstructorAssignment.filter(instructor_id=user.id, end_on=None).values_list(
        "organization_id", flat=True)
    return list(await Organization.filter(id__in=list(ids)).select_related("community")
                .order_by("uscc")) if ids else []


async def orphans_of(user: User) -> list[Organization]:
    """Active organizations whose assignment of this user ended and that have no current
    instructor: the ones to reassign."""
    ended = set(await InstructorAssignment.filter(instructor_id=user.id).exclude(
        end_on=None).values_list("organization_id", flat=True))
    if not ended:
        return []
    covered = set(await InstructorAssignment.filter(organization_id__in=list(ended),
                                                    end_on=None).values_list(
        "organization_id", flat=True))
    ids = sorted(ended - covered)
    return list(await Organization.filter(id__in=ids, closed_on=None).select_related(
        "community").order_by("uscc")) if ids else []


@dataclass
class Reassigned:
    instructor: User
    organizations: list[Organization]


async def reassign(user: User, org_ids: list[str], instructor_text: str,
                   lang: str = i18n.DEFAULT) -> Reassigned:
    """Give the chosen organizations left by `user` to another instructor, from today."""
    errors: dict[str, str] = {}
    wanted = {int(v) for v in org_ids if str(v).isdigit() and 0 < int(v) < 2**53}
    left = {o.id: o for o in await orphans_of(user)}
    chosen = [left[i] for i in sorted(wanted) if i in left]
    if not chosen:
        errors["orgs"] = _t("err_choose", lang)
    try:
        instructor = await instructor_named(instructor_text, lang)
    except FieldsInvalid as exc:
        errors.update(exc.errors)
        instructor = None
    if instructor is not None and instructor.id == user.id:
        errors["instructor"] = _t("err_same", lang)
    if errors:
        raise FieldsInvalid(errors)
    await guard_closed_periods()
    day = today()
    async with in_transaction():
        await InstructorAssignment.bulk_create([
            InstructorAssignment(instructor_id=instructor.id, organization_id=o.id,
                                 start_on=day) for o in chosen])
        await audit.record_many("coverage.assign", "coverage_org", (
            (o.uscc, None, {"instructor": instructor.username, "start_on": day})
            for o in chosen), reason=audit.said("coverage.said.reassigned_from", user=user.username))
    return Reassigned(instructor, chosen)


async def history_of(org: Organization) -> list[InstructorAssignment]:
    return list(await InstructorAssignment.filter(organization_id=org.id).select_related(
        "instructor").order_by("-id"))


async def nearby_instructors(org: Organization, limit: int = 50) -> list[User]:
    """Instructors already serving the organization's community: the likely choices."""
    ids = await InstructorAssignment.filter(
        organization__community_id=org.community_id, end_on=None,
        instructor__is_active=True).distinct().values_list("instructor_id", flat=True)
    return list(await User.filter(id__in=list(ids)[:limit]).order_by("username")) if ids else []



async def leaves_role(user: User, role: str, reason: str) -> list[Notice]:
    """Hook `kaohe_user_leaves_role`: an instructor who leaves the role ends their
    assignments today."""
    return await end_all(user, reason) if role == "instructor" else []
