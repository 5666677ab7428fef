"""Loading the registry in bulk (for example from the market-regulation bureau's list).

A row is one organization keyed by its credit code, with its party organization (rows
naming the same joint party organization form it together) and its instructors. A blank
optional cell leaves the stored value as it is. A full import lists the active
organizations it did not mention for the admin to close or keep; nothing is deleted.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tortoise.transactions import in_transaction

from core import audit
from core.accounts import User
from core.orgs import OrgUnit
from core.uploads import CellError, Preview, convert
from plugins.coverage import codes
from plugins.coverage.codes import FieldError
from plugins.coverage.models import (
    InstructorAssignment,
    MissingOrganization,
    Organization,
    PartyOrg,
    PartyOrgLink,
    RegistryImport,
)
from plugins.coverage.registry import denominator_state, guard_closed_periods, keep_history
from plugins.coverage.reporting import _in_chunks, today
from plugins.coverage.workbooks import REGISTRY_HEADERS, registry_specs

ORG_FIELDS = ("name", "kind", "industry", "community_id", "employees", "formal_members",
              "probationary_members", "status", "closed_on", "valid_from", "demo_site")
PARTY_FIELDS = ("party_org_type", "formation", "established", "secretary", "party_org_members")
PARTY_MODEL = {"party_org_type": "type", "formation": "formation", "established": "established",
               "secretary": "secretary", "party_org_members": "member_count"}
SPLIT = re.compile(r"[、,，;；\s]+")


def clean_registry_row(values: dict[str, Any], skip: set[str] = frozenset()
                       ) -> tuple[dict[str, Any], list[FieldError]]:
    """Checks of one typed registry row that need no database."""
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}

    def take(name: str, fn: Callable[[], Any]) -> None:
        if name in skip:
            return
        try:
            clean[name] = fn()
        except FieldError as exc:
            errors.append(exc)

    take("uscc", lambda: codes.check_uscc(values.get("uscc")))
    take("name", lambda: codes.check_text(values.get("name"), "name", 200, required=True))
    take("kind", lambda: codes.from_label(values.get("kind"), codes.KIND_LABELS, "kind"))
    take("community", lambda: codes.check_text(values.get("community"), "community", 32,
                                               required=True))
    for name in ("employees", "formal_members", "probationary_members", "party_org_members"):
        if values.get(name) is not None:
            take(name, lambda name=name: codes.check_count(values.get(name), name))
    for name, limit in (("industry", 100), ("party_org", 200), ("secretary", 100)):
        if values.get(name) not in (None, ""):
            take(name, lambda name=name, limit=limit: codes.check_text(values.get(name), name, limit))
    for name, labels in (("status", codes.STATUS_LABELS),
                         ("party_org_type", codes.PARTY_ORG_TYPE_LABELS),
                         ("formation", codes.FORMATION_LABELS)):
        if values.get(name) not in (None, ""):
            take(name, lambda name=name, labels=labels: codes.from_label(values.get(name), labels,
                                                                          name))
    for name in ("closed_on", "valid_from", "established"):
        if values.get(name) not in (None, ""):
            take(name, lambda name=name: codes.check_date(values.get(name), name))
    if values.get("demo_site") not in (None, ""):
        take("demo_site", lambda: codes.check_yes_no(values.get("demo_site"), "demo_site"))
    if values.get("instructors") not in (None, ""):
        clean["instructors"] = [u for u in SPLIT.split(str(values["instructors"]).strip()) if u]
    if clean.get("party_org"):
        for name in ("party_org_type", "formation"):
            if name not in clean and name not in skip:
                errors.append(FieldError(name, "party_org_needs", {"party_org": clean["party_org"]}))
    else:
        for name in PARTY_FIELDS:
            if clean.get(name) not in (None, ""):
                errors.append(FieldError("party_org", "required"))
                break
    if clean.get("status") == "active" and clean.get("closed_on"):
        errors.append(FieldError("closed_on", "closed_on_active"))
    return clean, errors


@dataclass
class RegistryOutcome:
    row: int
    uscc: str
    action: str
    values: dict[str, Any]
    org_values: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    instructors: list[User] | None = None
    org: Organization | None = None


@dataclass
class RegistryPlan:
    full: bool
    outcomes: list[RegistryOutcome]
    errors: list[CellError]
    missing: list[Organization] = field(default_factory=list)
    party_groups: dict[str, dict[str, Any]] = field(default_factory=dict)

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    def summary(self) -> dict[str, int]:
        return {"create": self.count("create"), "change": self.count("change"),
                "unchanged": self.count("unchanged"), "errors": len(self.errors),
                "error_rows": len({e.row for e in self.errors}), "missing": len(self.missing)}

    def preview(self, lang: str = "zh") -> Preview:
        h = REGISTRY_HEADERS
        keys = ["uscc", "name", "kind", "community", "formal_members", "party_org", "instructors"]
        create = [{"row": o.row, "values": {k: _shown(o.values.get(k)) for k in keys}}
                  for o in self.outcomes if o.action == "create"]
        change = [{"row": o.row, "label": f"{o.values.get('name')}（{o.uscc}）",
                   "changes": [{"field": h.get(k, k), "before": _shown(b), "after": _shown(a)}
                               for k, (b, a) in o.changes.items()]}
                  for o in self.outcomes if o.action == "change"]
        return Preview(columns=[(k, h[k]) for k in keys], create=create, change=change,
                       errors=self.errors, unchanged=self.count("unchanged"))


def _shown(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return "、".join(map(str, value))
    if isinstance(value, bool):
        return codes.YES_NO[value]
    for labels in (codes.KIND_LABELS, codes.STATUS_LABELS, codes.PARTY_ORG_TYPE_LABELS,
                   codes.FORMATION_LABELS):
        if isinstance(value, str) and value in labels:
            return labels[value]
    return value


def typed_values(raw: dict[str, Any], lang: str = "zh") -> tuple[dict[str, Any], list[FieldError]]:
    """JSON values converted like workbook cells, for the one-organization API."""
    out: dict[str, Any] = {}
    errors: list[FieldError] = []
    for spec in registry_specs(lang):
        value, problem = convert(raw.get(spec.key), spec, lang)
        if problem:
            errors.append(FieldError(spec.key, "cell", {"message": problem}))
        out[spec.key] = value
    return out, errors


async def plan_registry(rows: list[tuple[int, dict[str, Any]]], *, full: bool = False,
                        sheet: str = "组织名册", letters: dict[str, str] | None = None,
                        prior: list[CellError] = (), lang: str = "zh") -> RegistryPlan:
    letters = letters or {}
    by_letter = {v: k for k, v in letters.items()}
    errors: list[CellError] = list(prior)
    bad: dict[int, set[str]] = {}
    for e in prior:
        bad.setdefault(e.row, set()).add(by_letter.get(e.column, e.column))

    def err(row: int, problem: FieldError) -> None:
        errors.append(CellError(sheet, row, letters.get(problem.field, ""), problem.message(lang),
                                REGISTRY_HEADERS.get(problem.field, problem.field)))

    cleaned: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    mentioned: set[str] = set()
    for row, values in rows:
        clean, problems = clean_registry_row(values, bad.get(row, set()))
        uscc = clean.get("uscc")
        if uscc:
            mentioned.add(uscc)
            if uscc in seen:
                problems.append(FieldError("uscc", "duplicate", {"value": uscc, "row": seen[uscc]}))
            else:
                seen[uscc] = row
        for p in problems:
            err(row, p)
        if not problems and not bad.get(row):
            cleaned.append((row, clean))

    # What the database knows about these rows.
    community_codes = sorted({c["community"] for _, c in cleaned})
    communities = {u.code: u for u in await _in_chunks(
        community_codes, lambda chunk: OrgUnit.filter(code__in=chunk))}
    usernames = sorted({u for _, c in cleaned for u in c.get("instructors", [])})
    users = {u.username: u for u in await _in_chunks(
        usernames, lambda chunk: User.filter(username__in=chunk))}
    orgs = {o.uscc: o for o in await _in_chunks(
        sorted(seen), lambda chunk: Organization.filter(uscc__in=chunk))}
    org_ids = [o.id for o in orgs.values()]
    names = sorted({c["party_org"] for _, c in cleaned if c.get("party_org")})
    party = {p.name: p for p in await _in_chunks(names, lambda chunk: PartyOrg.filter(
        name__in=chunk))}
    links = await _in_chunks([p.id for p in party.values()], lambda chunk: PartyOrgLink.filter(
        party_org_id__in=chunk).values_list("party_org_id", "organization_id"))
    linked_to: dict[int, set[int]] = {}
    for pid, oid in links:
        linked_to.setdefault(pid, set()).add(oid)
    own_links = await _in_chunks(org_ids, lambda chunk: PartyOrgLink.filter(
        organization_id__in=chunk, party_org__formation="standalone",
        party_org__dissolved_on=None).values_list("organization_id", "party_org__name"))
    own_name = dict(own_links)
    org_links = await _in_chunks(org_ids, lambda chunk: PartyOrgLink.filter(
        organization_id__in=chunk).values_list("organization_id", "party_org__name"))
    linked_names: dict[int, set[str]] = {}
    for oid, name in org_links:
        linked_names.setdefault(oid, set()).add(name)
    assigned_rows = await _in_chunks(org_ids, lambda chunk: InstructorAssignment.filter(
        organization_id__in=chunk, end_on=None).values_list("organization_id",
                                                            "instructor__username"))
    unit_codes = dict(await _in_chunks(sorted({o.community_id for o in orgs.values()}),
                                       lambda chunk: OrgUnit.filter(id__in=chunk).values_list(
                                           "id", "code")))
    assigned: dict[int, set[str]] = {}
    for oid, username in assigned_rows:
        assigned.setdefault(oid, set()).add(username)

    outcomes: list[RegistryOutcome] = []
    groups: dict[str, dict[str, Any]] = {}
    for row, clean in cleaned:
        problems: list[FieldError] = []
        unit = communities.get(clean["community"])
        if unit is None or unit.level != "community":
            problems.append(FieldError("community", "unknown_community", {"value": clean["community"]}))
        people = []
        for username in clean.get("instructors", []):
            user = users.get(username)
            if user is None or user.role != "instructor" or not user.is_active:
                problems.append(FieldError("instructors", "unknown_instructor", {"value": username}))
            else:
                people.append(user)
        org = orgs.get(clean["uscc"])
        pname = clean.get("party_org")
        if pname:
            attrs = {k: clean.get(k) for k in PARTY_FIELDS}
            group = groups.get(pname)
            if group is None:
                groups[pname] = {"row": row, "attrs": attrs, "usccs": [clean["uscc"]]}
            else:
                conflict = [k for k in PARTY_FIELDS if attrs[k] is not None
                            and group["attrs"][k] is not None and attrs[k] != group["attrs"][k]]
                for k in conflict:
                    problems.append(FieldError(k, "party_org_conflict", {
                        "party_org": pname, "row": group["row"]}))
                if attrs["formation"] == "standalone" or group["attrs"]["formation"] == "standalone":
                    problems.append(FieldError("party_org", "standalone_once", {
                        "party_org": pname, "row": group["row"]}))
                if not problems:
                    group["usccs"].append(clean["uscc"])
                    for k in PARTY_FIELDS:
                        if group["attrs"][k] is None:
                            group["attrs"][k] = attrs[k]
            existing = party.get(pname)
            if existing is not None and existing.formation != clean.get("formation"):
                problems.append(FieldError("formation", "formation_conflict", {
                    "party_org": pname, "formation": codes.FORMATION_LABELS[existing.formation]}))
            if (existing is not None and existing.formation == "standalone"
                    and linked_to.get(existing.id, set()) - ({org.id} if org else set())):
                problems.append(FieldError("party_org", "standalone_taken", {"party_org": pname}))
            if (org is not None and clean.get("formation") == "standalone"
                    and own_name.get(org.id) not in (None, pname)):
                problems.append(FieldError("party_org", "already_has_own_named", {
                    "name": clean["name"], "party_org": own_name[org.id]}))
        if problems:
            for p in problems:
                err(row, p)
            continue
        org_values = _org_values(clean, unit, org)
        out = RegistryOutcome(row, clean["uscc"], "create", clean, org_values, org=org,
                              instructors=people if "instructors" in clean else None)
        if org is not None:
            for k in ORG_FIELDS:
                before = getattr(org, k)
                if before != org_values[k]:
                    label = "community" if k == "community_id" else k
                    if k == "community_id":
                        out.changes[label] = (unit_codes.get(before, before), clean["community"])
                    else:
                        out.changes[label] = (before, org_values[k])
            if pname and pname not in linked_names.get(org.id, set()):
                out.changes["party_org"] = ("、".join(sorted(linked_names.get(org.id, set()))),
                                            pname)
            if pname and pname in party:
                p = party[pname]
                for k in PARTY_FIELDS:
                    new = clean.get(k)
                    if new is not None and getattr(p, PARTY_MODEL[k]) != new:
                        out.changes[k] = (getattr(p, PARTY_MODEL[k]), new)
            if out.instructors is not None:
                now = assigned.get(org.id, set())
                want = {u.username for u in out.instructors}
                if now != want:
                    out.changes["instructors"] = (sorted(now), sorted(want))
            out.action = "change" if out.changes else "unchanged"
        outcomes.append(out)
    missing: list[Organization] = []
    if full:
        active = await Organization.filter(closed_on=None).only("id", "uscc", "name")
        # Waiting for a decision, or kept by the admin before: not listed again.
        pending = set(await MissingOrganization.filter(decision__in=("", "keep")).values_list(
            "organization_id", flat=True))
        missing = [o for o in active if o.uscc not in mentioned]
        for o in missing:
            o._already_listed = o.id in pending  # type: ignore[attr-defined]
    errors.sort(key=lambda e: (e.row, e.column))
    return RegistryPlan(full, outcomes, errors, missing, groups)


def _org_values(clean: dict[str, Any], unit: OrgUnit, org: Organization | None) -> dict[str, Any]:
    """The organization's fields after this row: blank optional cells keep what is stored."""
    def pick(name: str, default: Any) -> Any:
        value = clean.get(name)
        if value is None or value == "":
            return getattr(org, name) if org is not None else default
        return value

    status = pick("status", "active")
    closed_on = clean.get("closed_on") or (org.closed_on if org is not None else None)
    if status == "active":
        closed_on = None
    elif closed_on is None:
        closed_on = today()
    return {"name": clean["name"], "kind": clean["kind"], "industry": pick("industry", ""),
            "community_id": unit.id, "employees": pick("employees", 0),
            "formal_members": pick("formal_members", 0),
            "probationary_members": pick("probationary_members", 0), "status": status,
            "closed_on": closed_on, "valid_from": pick("valid_from", None),
            "demo_site": pick("demo_site", False)}


async def save_registry(plan: RegistryPlan, actor: str, *, filename: str = "", sha256: str = ""
                        ) -> dict[str, Any]:
    """Apply the plan's valid rows in one transaction; list what a full import missed."""
    todo = [o for o in plan.outcomes if o.action in ("create", "change")]
    new_missing = [o for o in plan.missing if not getattr(o, "_already_listed", False)]
    result = {**plan.summary(), "listed_missing": len(new_missing), "import_id": None}
    if not todo and not new_missing:
        return result
    await guard_closed_periods()
    entries: list[tuple[str, Any, Any]] = []
    async with in_transaction():
        by_uscc: dict[str, Organization] = {}
        for o in todo:
            if o.org is None:
                org = await Organization.create(uscc=o.uscc, **o.org_values)
                await keep_history(org, None, "registry")
                entries.append((o.uscc, None, audit.snapshot(org)))
            else:
                org = await Organization.get(id=o.org.id)
                before, snap = denominator_state(org), audit.snapshot(org)
                for k, v in o.org_values.items():
                    setattr(org, k, v)
                await org.save()
                await keep_history(org, before, "registry")
                entries.append((o.uscc, snap, {k: v for k, (_, v) in o.changes.items()}))
            by_uscc[o.uscc] = org
            if o.instructors is not None:
                from plugins.coverage.registry import set_instructors

                await set_instructors(org, o.instructors)
        for name, group in plan.party_groups.items():
            members = [by_uscc[u] for u in group["usccs"] if u in by_uscc]
            if not members:
                continue
            attrs = {PARTY_MODEL[k]: v for k, v in group["attrs"].items() if v is not None}
            party = await PartyOrg.get_or_none(name=name)
            if party is None:
                party = await PartyOrg.create(name=name, **attrs)
                entries.append((f"party:{name}", None, audit.snapshot(party)))
            elif any(getattr(party, k) != v for k, v in attrs.items()):
                snap = audit.snapshot(party)
                for k, v in attrs.items():
                    setattr(party, k, v)
                await party.save()
                entries.append((f"party:{name}", snap, audit.snapshot(party)))
            for org in members:
                await PartyOrgLink.get_or_create(party_org=party, organization=org)
        record = await RegistryImport.create(
            filename=filename[:200], sha256=sha256, full=plan.full, created=plan.count("create"),
            changed=plan.count("change"), unchanged=plan.count("unchanged"),
            errors=len(plan.errors), imported_by=actor)
        if new_missing:
            await MissingOrganization.bulk_create([
                MissingOrganization(registry_import=record, organization_id=o.id)
                for o in new_missing])
        result["import_id"] = record.id
        await audit.record_many("coverage.registry.import", "coverage_org", entries,
                                reason=audit.said("coverage.said.registry_import", id=record.id,
                                                file=filename))
        if new_missing:
            await audit.record("coverage.registry.missing", "coverage_registry_import", record.id,
                               after={"missing": [o.uscc for o in new_missing]})
    return result
