"""Rankings: compute a draft, publish it (frozen with its inputs' hashes), verify it later,
objections within the window, finalization and revisions. Nothing published changes in place."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from core import audit, clock, events, notify
from core.accounts import User
from core.calendar import WorkCalendar
from core.contrib import DomainEvent
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.orgs import OrgUnit, Period
from plugins.ranking import models, scoring
from plugins.ranking.scheme import Scheme
from plugins.ranking.services import current_scheme, get_group, group_units, scheme_of, today
from plugins.ranking.values import Inputs, gather_inputs

PUBLISHED = ("objection", "final")
log = logging.getLogger("kaohe.ranking")


def link(ranking_id: int) -> str:
    return f"/ranking/rankings/{ranking_id}"


async def get_ranking(ranking_id: int) -> models.Ranking:
    ranking = await models.Ranking.get_or_none(id=ranking_id)
    if ranking is None:
        raise NotFound("unknown_ranking", f"ranking: no ranking #{ranking_id}", field="ranking")
    return ranking


async def latest(period: str, group: str, published_only: bool = False) -> models.Ranking | None:
    qs = models.Ranking.filter(period=period, group=group)
    if published_only:
        qs = qs.filter(status__in=PUBLISHED)
    return await qs.order_by("-revision").first()


async def _previous(period: str, group: str) -> tuple[str, dict[str, tuple[int | None, Decimal | None]]]:
    """The published results of the same group in the period before (same kind)."""
    cur = await Period.get_or_none(code=period)
    if cur is None:
        return "", {}
    prev = await Period.filter(kind=cur.kind, end__lt=cur.start).order_by("-end").first()
    if prev is None:
        return "", {}
    ranking = await latest(prev.code, group, published_only=True)
    if ranking is None:
        return prev.code, {}
    rows = await models.RankingRow.filter(ranking=ranking).values_list("unit_code", "rank", "total")
    return prev.code, {u: (r, t) for u, r, t in rows}


def frozen_inputs(inputs: Inputs, scheme: Scheme) -> dict[str, dict[str, dict[str, Any]]]:
    """unit → indicator → {v, s, h}: each value with its source and SHA-256."""
    return scoring.input_hashes(inputs.period, [u.code for u in inputs.units],
                                [(i.key, i.source) for i in scheme.indicators], inputs.values)


def inputs_digest(frozen: dict[str, dict[str, dict[str, Any]]], definition_version: int) -> str:
    return scoring.digest({"definition_version": definition_version,
                           "inputs": {u: {k: x["h"] for k, x in inds.items()}
                                      for u, inds in frozen.items()}})


async def compute(period: str, group_key: str, actor: str | None = None) -> models.Ranking:
    """Compute (or recompute) the draft ranking of a group for a period."""
    actor = actor or audit.current_actor()
    scheme_row, scheme = await current_scheme()
    group = get_group(scheme, group_key)
    if not await Period.exists(code=period):
        raise Invalid("unknown_period", f"period: no period '{period}'", field="period")
    existing = await latest(period, group.key)
    if existing is not None and existing.status == "superseded":
        existing = None  # a revision was started: the next revision number is computed below
    if existing is not None and existing.status != "draft":
        raise Conflict("ranking_published",
                       f"ranking #{existing.id} ({period}, {group.key}) is published "
                       f"({existing.status}); a published ranking is never changed: "
                       f"start a revision to rank again", field="ranking")
    units = await group_units(group)
    if not units:
        raise Invalid("group_empty", f"group: peer group '{group.key}' has no active units of "
                                     f"level '{group.level}'", field="group")
    inputs = await gather_inputs(scheme, period, units)
    prev_code, previous = await _previous(period, group.key)
    results = scoring.compute(scheme, [(u.code, u.name) for u in units], inputs.values, previous)
    frozen = frozen_inputs(inputs, scheme)
    canonical = scoring.result_rows(results)
    fields = dict(
        scheme_id=scheme_row.id, definition_slug=scheme_row.slug,
        definition_version=scheme_row.definition_version, missing_policy=scheme.missing,
        top_n=scheme.top_n, bottom_n=scheme.bottom_n, unit_count=len(units),
        excluded_count=sum(r.excluded for r in results),
        inputs_sha256=inputs_digest(frozen, scheme_row.definition_version),
        results_sha256=scoring.digest(canonical), previous_period=prev_code,
        computed_at=clock.now(), computed_by=actor)
    async with in_transaction():
        if existing is None:
            last = await models.Ranking.filter(period=period, group=group.key) \
                .order_by("-revision").first()
            ranking = await models.Ranking.create(period=period, group=group.key,
                                                  revision=(last.revision + 1) if last else 1,
                                                  status="draft", **fields)
        else:
            # Only a draft gets here; the conditional update loses to a concurrent publish.
            updated = await models.Ranking.filter(id=existing.id, status="draft").update(**fields)
            if not updated:
                raise Conflict("ranking_published", f"ranking #{existing.id} was published "
                                                    f"meanwhile", field="ranking")
            ranking = await models.Ranking.get(id=existing.id)
            await models.RankingRow.filter(ranking_id=ranking.id).delete()
        await models.RankingRow.bulk_create([
            models.RankingRow(ranking_id=ranking.id, position=pos, unit_code=r.code,
                              unit_name=r.name, rank=r.rank, total=r.total, prev_rank=r.prev_rank,
                              prev_total=r.prev_total, flag=r.flag, excluded=r.excluded,
                              missing=r.missing, aspects=c["aspects"], scores=c["scores"],
                              inputs=frozen[r.code])
            for pos, (r, c) in enumerate(zip(results, canonical, strict=True))],
            batch_size=1000)
        await audit.record("ranking.compute", "ranking", ranking.id, after={
            "period": period, "group": group.key, "revision": ranking.revision,
            "definition_version": scheme_row.definition_version, "units": len(units),
            "excluded": ranking.excluded_count, "inputs_sha256": ranking.inputs_sha256,
            "results_sha256": ranking.results_sha256})
    return ranking


async def _input_changes(ranking: models.Ranking, scheme: Scheme,
                         rows: list[models.RankingRow]) -> tuple[list[dict[str, Any]], Inputs | None]:
    """Inputs whose current value differs from the frozen one (by hash)."""
    codes = [r.unit_code for r in rows]
    units = {u.code: u for u in await OrgUnit.filter(code__in=codes)}
    missing_units = [c for c in codes if c not in units]
    changes = [{"unit_code": c, "indicator": "", "change": "unit_removed"} for c in missing_units]
    present = [units[c] for c in codes if c in units]
    inputs = await gather_inputs(scheme, ranking.period, present)
    now_frozen = frozen_inputs(inputs, scheme)
    for row in rows:
        if row.unit_code not in now_frozen:
            continue
        for key, was in row.inputs.items():
            cur = now_frozen[row.unit_code].get(key)
            if cur is None or cur["h"] != was["h"]:
                ind = scheme.by_key.get(key)
                changes.append({"unit_code": row.unit_code, "unit_name": row.unit_name,
                                "indicator": key, "name": ind.name if ind else key,
                                "source": was["s"], "frozen": was["v"],
                                "current": cur["v"] if cur else None, "change": "value"})
    return changes, inputs


def missing_of(rows: list[models.RankingRow], scheme: Scheme) -> list[dict[str, Any]]:
    """Per indicator, the units whose value is missing (manual, imported or a plugin's)."""
    by_key: dict[str, dict[str, Any]] = {}
    for row in rows:
        for key in row.missing or []:
            ind = scheme.by_key.get(key)
            entry = by_key.setdefault(key, {"key": key, "name": ind.name if ind else key,
                                            "source": ind.source if ind else "", "units": []})
            entry["units"].append({"unit_code": row.unit_code, "unit_name": row.unit_name})
    order = {i.key: n for n, i in enumerate(scheme.indicators)}
    return sorted(by_key.values(), key=lambda e: order.get(e["key"], len(order)))


def missing_text(missing: list[dict[str, Any]], limit: int = 5) -> str:
    """"问题限期整改按期完成率 (plugin:rectification.on_time_rate): 南明区, 云岩区 … (10 units)"."""
    parts = []
    for e in missing:
        names = [u["unit_name"] for u in e["units"]]
        shown = ", ".join(names[:limit]) + (f" … ({len(names)} units)" if len(names) > limit else "")
        parts.append(f"{e['name']} ({e['source']}): {shown}")
    return "; ".join(parts)


async def publish(ranking_id: int, actor: str | None = None, settings: Any = None,
                  confirm_missing: bool = False) -> models.Ranking:
    """Freeze a draft: refused twice, refused when its inputs or scheme changed since compute,
    and refused while values are missing unless `confirm_missing` says the publisher has seen
    them (the refusal names them). With the platform settings, the published workbook also
    goes into the report archive."""
    actor = actor or audit.current_actor()
    ranking = await get_ranking(ranking_id)
    if ranking.status != "draft":
        raise Conflict("already_published",
                       f"ranking #{ranking.id} ({ranking.period}, {ranking.group}) was published "
                       f"at {_local(ranking.published_at)} by {ranking.published_by}; "
                       f"publishing twice is refused", field="ranking")
    scheme_row, scheme = await current_scheme()
    if scheme_row.id != ranking.scheme_id:
        raise Conflict("scheme_changed", f"the indicator scheme changed since ranking "
                                         f"#{ranking.id} was computed (definition version "
                                         f"{ranking.definition_version} → "
                                         f"{scheme_row.definition_version}): recompute first",
                       field="ranking")
    rows = await models.RankingRow.filter(ranking=ranking).order_by("position")
    changes, _ = await _input_changes(ranking, scheme, rows)
    if changes:
        raise Conflict("inputs_changed", f"{len(changes)} input values changed since ranking "
                                         f"#{ranking.id} was computed: recompute first",
                       field="ranking", details=changes[:50])
    missing = missing_of(rows, scheme)
    count = sum(len(e["units"]) for e in missing)
    if missing and not confirm_missing:
        scored = "scored 0" if ranking.missing_policy == "zero" else "left unranked"
        raise Conflict("missing_values",
                       f"ranking #{ranking.id} ({ranking.period}, {ranking.group}) has {count} "
                       f"missing values, {scored} (missing = \"{ranking.missing_policy}\"): "
                       f"{missing_text(missing)}; confirm the missing values to publish",
                       field="confirm_missing", details={"missing": missing, "count": count})
    days = scheme.objection_days
    until = (await WorkCalendar.load()).add_working_days(today(), days) if days else None
    now = clock.now()
    async with in_transaction():
        updated = await models.Ranking.filter(id=ranking.id, status="draft").update(
            status="objection" if until else "final", published_at=now, published_by=actor,
            objection_until=until, finalized_at=None if until else now)
        if not updated:
            raise Conflict("already_published", f"ranking #{ranking.id} was published meanwhile; "
                                                f"publishing twice is refused", field="ranking")
        await audit.record("ranking.publish", "ranking", ranking.id,
                           before={"status": "draft"},
                           after={"status": "objection" if until else "final",
                                  "objection_until": until, "inputs_sha256": ranking.inputs_sha256,
                                  "results_sha256": ranking.results_sha256,
                                  "definition_version": ranking.definition_version,
                                  "missing_confirmed": missing_text(missing, limit=50)})
        ranking = await get_ranking(ranking.id)
        # Stored with the publication: a listener that fails is retried by core.events.
        group = scheme.group(ranking.group)
        event = published_event(ranking, rows, group.name if group else "")
        stored = await events.announce(event.name, event.key, event.payload)
    await events.deliver([stored] if stored else [])
    if settings is not None:
        await archive_published(settings, ranking)
    return ranking


async def archive_published(settings: Any, ranking: models.Ranking) -> Any:
    """Put the published ranking's workbook in the report archive (for leaders to download).
    Publishing stands even if this fails: the admins are told and can archive it again."""
    from core.contrib import ExportRequest
    from core.exports import archive_export, build_export

    request = ExportRequest(period=ranking.period, group=ranking.group)
    try:
        data = await build_export("ranking", request)
        return await archive_export("ranking", request, data, created_by=audit.current_actor(),
                                    settings=settings)
    except Exception as exc:
        log.exception("ranking #%s: archiving the published workbook failed", ranking.id)
        admins = await User.filter(role="admin", is_active=True)
        await notify.notify(admins, f"排位 #{ranking.id} 已发布，但归档失败", str(exc),
                            key=f"ranking.archive_failed:{ranking.id}", link=link(ranking.id))
        return None


def published_event(ranking: models.Ranking, rows: list[models.RankingRow],
                    group_name: str = "") -> DomainEvent:
    ranked = [r for r in rows if r.rank is not None]

    def item(r: models.RankingRow) -> dict[str, Any]:
        return {"unit_code": r.unit_code, "rank": r.rank, "total": float(r.total)}

    return DomainEvent(
        name="ranking.published", key=f"ranking.published:{ranking.id}", source="ranking",
        payload={"ranking_id": ranking.id, "period": ranking.period, "group": ranking.group,
                 "group_name": group_name or ranking.group,
                 "published_at": ranking.published_at.isoformat(),
                 "units": [item(r) for r in ranked], "bottom_n": ranking.bottom_n,
                 "bottom": [item(r) for r in ranked if r.flag == "bottom"],
                 "top_n": ranking.top_n, "link": link(ranking.id)})


def _local(value: dt.datetime | None) -> str:

    return value.astimezone(clock.tz()).strftime("%Y-%m-%d %H:%M") if value else "-"


async def verify(ranking_id: int) -> dict[str, Any]:
    """Replay a ranking: are the frozen inputs intact, do they give the stored results, and
    which inputs (if any) differ today."""
    ranking = await get_ranking(ranking_id)
    scheme_row = await models.Scheme.get(id=ranking.scheme_id)
    scheme = scheme_of(scheme_row)
    rows = await models.RankingRow.filter(ranking=ranking).order_by("position")
    tampered = []
    frozen_values: dict[str, dict[str, Decimal | None]] = {}
    for row in rows:
        vals = frozen_values.setdefault(row.unit_code, {})
        for key, x in row.inputs.items():
            value = Decimal(x["v"]) if x["v"] is not None else None
            vals[key] = value
            if scoring.input_hash(ranking.period, row.unit_code, key, value, x["s"]) != x["h"]:
                tampered.append({"unit_code": row.unit_code, "indicator": key, "stored": x["v"]})
    frozen = {r.unit_code: r.inputs for r in rows}
    digest_ok = inputs_digest(frozen, ranking.definition_version) == ranking.inputs_sha256
    previous = {r.unit_code: (r.prev_rank, r.prev_total) for r in rows}
    replay = scoring.compute(scheme, [(r.unit_code, r.unit_name) for r in rows], frozen_values,
                             previous)
    stored = {r.unit_code: r for r in rows}
    result_diffs = _result_diffs(replay, stored)
    reproduced = not result_diffs and \
        scoring.digest(scoring.result_rows(replay)) == ranking.results_sha256
    changes, current_inputs = await _input_changes(ranking, scheme, rows)
    would_change = []
    if changes and current_inputs is not None:
        units = current_inputs.units
        now = scoring.compute(scheme, [(u.code, u.name) for u in units], current_inputs.values,
                              previous)
        would_change = _result_diffs(now, stored)
    return {
        "ranking_id": ranking.id, "period": ranking.period, "group": ranking.group,
        "status": ranking.status, "definition_version": ranking.definition_version,
        "inputs_sha256": ranking.inputs_sha256, "results_sha256": ranking.results_sha256,
        "frozen_inputs_intact": not tampered and digest_ok, "tampered_inputs": tampered,
        "reproduced": reproduced, "result_differences": result_diffs,
        "inputs_unchanged": not changes, "changed_inputs": changes,
        "results_with_current_inputs": would_change,
        "identical": not tampered and digest_ok and reproduced and not changes,
    }


def _result_diffs(results: list[scoring.UnitResult],
                  stored: dict[str, models.RankingRow]) -> list[dict[str, Any]]:
    diffs = []
    for r in results:
        row = stored.get(r.code)
        if row is None:
            diffs.append({"unit_code": r.code, "stored_rank": None, "rank": r.rank,
                          "stored_total": None, "total": scoring.num(r.total)})
            continue
        row_total = Decimal(row.total) if row.total is not None else None
        same = (row.rank == r.rank and row_total == r.total and row.flag == r.flag
                and row.aspects == {k: scoring.num(v) for k, v in r.aspects.items()}
                and row.scores == {k: scoring.num(v) for k, v in r.scores.items()})
        if not same:
            diffs.append({"unit_code": r.code, "unit_name": row.unit_name,
                          "stored_rank": row.rank, "rank": r.rank,
                          "stored_total": scoring.num(row_total), "total": scoring.num(r.total)})
    return diffs


# -- objections, finalization, revisions ------------------------------------------------------
async def file_objection(ranking_id: int, user: User, unit_code: str, reason: str,
                         indicator: str = "") -> models.Objection:
    from core.scope import scope_for

    ranking = await get_ranking(ranking_id)
    if ranking.status != "objection" or (ranking.objection_until and
                                         today() > ranking.objection_until):
        raise Conflict("objection_closed", f"ranking #{ranking.id} takes no objections "
                                           f"(status {ranking.status}, window until "
                                           f"{ranking.objection_until or '-'})", field="ranking")
    if not reason or not reason.strip():
        raise Invalid("reason_required", "reason: say what is wrong", field="reason")
    row = await models.RankingRow.get_or_none(ranking=ranking, unit_code=unit_code)
    if row is None:
        raise Invalid("unit_not_ranked", f"unit: '{unit_code}' is not in ranking #{ranking.id}",
                      field="unit")
    unit = await OrgUnit.get(code=unit_code)
    scope = await scope_for(user)
    if user.role != "admin" and not (scope.kind == "subtree" and scope.allows_unit_path(unit.path)):
        raise Forbidden("out_of_scope", f"unit: you may object only for your own unit, "
                                        f"not '{unit_code}'", field="unit")
    if indicator and indicator not in row.inputs:
        raise Invalid("unknown_indicator", f"indicator: no indicator '{indicator}' in this "
                                           f"ranking", field="indicator")
    obj = await models.Objection.create(ranking=ranking, unit_code=unit_code, indicator=indicator,
                                        reason=reason.strip(), filed_by=user.username)
    await audit.record("ranking.objection.file", "ranking_objection", obj.id,
                       after=audit.snapshot(obj))
    admins = await User.filter(role="admin", is_active=True)
    await notify.notify(admins, f"排位异议：{row.unit_name} 对 {ranking.period} 排位提出异议",
                        obj.reason, key=f"ranking.objection:{obj.id}", link=link(ranking.id))
    return obj


async def resolve_objection(objection_id: int, decision: str, response: str,
                            actor: str | None = None) -> models.Objection:
    actor = actor or audit.current_actor()
    if decision not in ("upheld", "rejected"):
        raise Invalid("bad_decision", f"decision: '{decision}' is not upheld or rejected",
                      field="decision")
    if not response or not response.strip():
        raise Invalid("response_required", "response: give the reason for the decision",
                      field="response")
    obj = await models.Objection.get_or_none(id=objection_id)
    if obj is None:
        raise NotFound("unknown_objection", f"objection: no objection #{objection_id}")
    before = audit.snapshot(obj)
    updated = await models.Objection.filter(id=obj.id, status="open").update(
        status=decision, response=response.strip(), resolved_by=actor,
        resolved_at=clock.now())
    if not updated:
        raise Conflict("objection_resolved", f"objection #{obj.id} is already {obj.status}")
    obj = await models.Objection.get(id=obj.id)
    await audit.record("ranking.objection.resolve", "ranking_objection", obj.id, before=before,
                       after=audit.snapshot(obj))
    filer = await User.filter(username=obj.filed_by)
    await notify.notify(filer, f"排位异议处理结果：{'采纳' if decision == 'upheld' else '不予采纳'}",
                        obj.response, key=f"ranking.objection.resolved:{obj.id}",
                        link=link(obj.ranking_id))
    await finalize_due()
    return obj


async def finalize_due(day: dt.date | None = None) -> list[int]:
    """Rankings whose objection window has passed with no open objection become final."""
    day = day or today()
    done = []
    for ranking in await models.Ranking.filter(status="objection", objection_until__lt=day):
        if await models.Objection.exists(ranking=ranking, status="open"):
            continue
        if await models.Ranking.filter(id=ranking.id, status="objection").update(
                status="final", finalized_at=clock.now()):
            await audit.record("ranking.finalize", "ranking", ranking.id,
                               before={"status": "objection"}, after={"status": "final"})
            done.append(ranking.id)
    return done


async def revise(ranking_id: int, reason: str, actor: str | None = None) -> models.Ranking:
    """Replace a published ranking by a new draft revision; the old one stays as it was,
    marked superseded. Used after an upheld objection."""
    actor = actor or audit.current_actor()
    if not reason or not reason.strip():
        raise Invalid("reason_required", "reason: say why the ranking is revised", field="reason")
    old = await get_ranking(ranking_id)
    if old.status not in PUBLISHED:
        raise Conflict("not_published", f"ranking #{old.id} is {old.status}: only a published "
                                        f"ranking is revised (recompute a draft instead)")
    newest = await latest(old.period, old.group)
    if newest.id != old.id:
        raise Conflict("not_latest", f"ranking #{old.id} already has revision #{newest.id}")
    async with in_transaction():
        if not await models.Ranking.filter(id=old.id, status=old.status).update(
                status="superseded"):
            raise Conflict("ranking_changed", f"ranking #{old.id} changed meanwhile")
        await audit.record("ranking.revise", "ranking", old.id, before={"status": old.status},
                           after={"status": "superseded"}, reason=reason.strip())
        new = await compute(old.period, old.group, actor)
        await models.Ranking.filter(id=old.id).update(superseded_by=new.id)
    return new
