"""Year results (年度考核): compute a draft from the published period rankings, panels,
bonus/deduction entries and the facts vetoes and rules look at; publish it frozen with its
inputs' hashes; verify it later; objections during the 公示 window. Nothing published
changes in place."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from core import audit, clock
from core.assessments import AssessmentDefinition
from core.calendar import WorkCalendar
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.orgs import OrgUnit, Period
from plugins.ranking import annual_models as am
from plugins.ranking import annual_rules, models, scoring
from plugins.ranking.annual_scheme import AnnualError, AnnualScheme, parse
from plugins.ranking.panel_rating import panel_scores
from plugins.ranking.scheme import Group, Scheme
from plugins.ranking.services import current_scheme, get_group, group_units, indicator_source, today

PUBLISHED = ("objection", "final")
_parsed: dict[str, AnnualScheme] = {}


def link(result_id: int) -> str:
    return f"/ranking/annual/{result_id}"


async def annual_of(scheme_row: models.Scheme, scheme: Scheme) -> AnnualScheme:
    """The [ranking.annual] section of the definition version the scheme came from."""
    definition = await AssessmentDefinition.get_or_none(slug=scheme_row.slug,
                                                        version=scheme_row.definition_version)
    raw = ((definition.data if definition else {}).get("ranking") or {}).get("annual")
    if raw is None:
        raise NotFound("no_annual", "ranking.annual: the applied definition has no "
                                    "[ranking.annual] section (how the year is made)")
    key = f"{definition.sha256}:{scheme_row.sha256}"
    if key not in _parsed:
        try:
            _parsed[key] = parse(raw, scheme)
        except AnnualError as exc:  # validated when applied; only a plugin unloading gets here
            raise Invalid("annual_invalid", "; ".join(exc.errors)) from None
    return _parsed[key]


async def current_annual() -> tuple[models.Scheme, Scheme, AnnualScheme]:
    row, scheme = await current_scheme()
    return row, scheme, await annual_of(row, scheme)


async def get_result(result_id: int) -> am.AnnualResult:
    result = await am.AnnualResult.get_or_none(id=result_id)
    if result is None:
        raise NotFound("unknown_annual", f"annual result: no result #{result_id}", field="result")
    return result


async def latest(year: str, group: str, published_only: bool = False) -> am.AnnualResult | None:
    qs = am.AnnualResult.filter(year=year, group=group)
    if published_only:
        qs = qs.filter(status__in=PUBLISHED)
    return await qs.order_by("-revision").first()


async def _fact(source: str, year: str, codes: list[str],
                scheme: Scheme) -> dict[str, Decimal | None]:
    """A veto's or rule's fact for the year: a plugin's indicator source or a scheme
    indicator's value of the year's period (stored or pulled from its plugin)."""
    key = source[len("plugin:"):] if source.startswith("plugin:") else None
    ind = scheme.by_key.get(source)
    if ind is not None and ind.plugin_key:
        key = ind.plugin_key
    if key is not None:
        src = indicator_source(key)
        if src is None:
            raise Invalid("source_unavailable", f"ranking.annual: source '{source}' is not "
                                                f"provided by any loaded plugin", field="source")
        got = await src.values(year, codes) or {}
        return {c: scoring_value(got.get(c)) for c in codes}
    rows = await models.IndicatorValue.filter(period=year, indicator=source,
                                              unit_code__in=codes).values_list("unit_code", "value")
    return {c: Decimal(str(v)) for c, v in rows}


def scoring_value(raw: Any) -> Decimal | None:
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw))
    except ArithmeticError:
        return None
    return value if value.is_finite() else None


async def gather(a: AnnualScheme, scheme: Scheme, group: Group, units: list[OrgUnit]
                 ) -> tuple[dict[str, dict[str, Decimal | None]], dict[str, str], dict[str, int]]:
    """(inputs by unit, source of each input key, ranking id used per period)."""
    from plugins.ranking.rankings import latest as latest_ranking

    codes = [u.code for u in units]
    inputs: dict[str, dict[str, Decimal | None]] = {c: {} for c in codes}
    sources: dict[str, str] = {}
    used: dict[str, int] = {}
    bottoms = dict.fromkeys(codes, 0)
    for period in a.periods:
        ranking = await latest_ranking(period, group.key, published_only=True)
        if ranking is None:
            raise Invalid("period_not_published",
                          f"ranking.annual.components: period {period} has no published "
                          f"ranking of group '{group.key}' ({group.name}); publish it first",
                          field="period", details={"period": period, "group": group.key})
        used[period] = ranking.id
        sources[f"period:{period}"] = f"ranking:{ranking.id}"
        rows = await models.RankingRow.filter(ranking=ranking).values_list("unit_code", "total",
                                                                           "flag")
        got = {u: (t, f) for u, t, f in rows}
        for c in codes:
            total, flag = got.get(c, (None, ""))
            inputs[c][f"period:{period}"] = Decimal(str(total)) if total is not None else None
            bottoms[c] += flag == "bottom"
    for comp in a.components:
        if comp.panel:
            panel = a.panel(comp.panel)
            sources[f"panel:{panel.key}"] = sources[f"panel_n:{panel.key}"] = f"panel:{panel.key}"
            scores = await panel_scores(a.year, panel, group.key)
            for c in codes:
                mean, n = scores.get(c, (None, 0))
                inputs[c][f"panel:{panel.key}"] = mean
                inputs[c][f"panel_n:{panel.key}"] = Decimal(n)
    entries = await am.Adjustment.filter(year=a.year, unit_code__in=codes)
    for item in a.items:
        sources[f"adjust:{item.key}"] = f"adjustment:{item.kind}"
        for c in codes:
            inputs[c][f"adjust:{item.key}"] = Decimal(0)
    for e in entries:
        if e.item in {i.key for i in a.items}:
            inputs[e.unit_code][f"adjust:{e.item}"] += Decimal(str(e.points))
    for prefix, checks in (("veto", a.vetoes), ("rule", a.rules)):
        for x in checks:
            key = f"{prefix}:{x.key}"
            if getattr(x, "bottom_count", 0):
                sources[key] = "ranking:bottom"
                for c in codes:
                    inputs[c][key] = Decimal(bottoms[c])
                continue
            sources[key] = x.source
            got = await _fact(x.source, a.year, codes, scheme)
            for c in codes:
                inputs[c][key] = got.get(c)
    return inputs, sources, used


def frozen_inputs(year: str, codes: list[str], inputs: dict[str, dict[str, Decimal | None]],
                  sources: dict[str, str]) -> dict[str, dict[str, dict[str, Any]]]:
    return scoring.input_hashes(year, codes, sorted(sources.items()), inputs)


def inputs_digest(frozen: dict[str, dict[str, dict[str, Any]]], version: int) -> str:
    return scoring.digest({"definition_version": version, "inputs": {
        u: {k: x["h"] for k, x in inds.items()} for u, inds in frozen.items()}})


async def compute(year: str, group_key: str, actor: str | None = None) -> am.AnnualResult:
    """Compute (or recompute) the draft year result of a peer group."""
    actor = actor or audit.current_actor()
    row, scheme, a = await current_annual()
    if year != a.year:
        raise Invalid("unknown_year", f"year: the definition's year is {a.year}, not "
                                      f"'{year}'", field="year")
    group = get_group(scheme, group_key)
    existing = await latest(year, group.key)
    if existing is not None and existing.status == "superseded":
        existing = None
    if existing is not None and existing.status != "draft":
        raise Conflict("annual_published", f"annual result #{existing.id} ({year}, {group.key}) "
                                           f"is published ({existing.status}) and is never "
                                           f"changed", field="result")
    units = await group_units(group)
    if not units:
        raise Invalid("group_empty", f"group: peer group '{group.key}' has no active units",
                      field="group")
    inputs, sources, used = await gather(a, scheme, group, units)
    results = annual_rules.compute(a, [(u.code, u.name) for u in units], inputs)
    codes = [u.code for u in units]
    frozen = frozen_inputs(year, codes, inputs, sources)
    fields = dict(definition_slug=row.slug, definition_version=row.definition_version,
                  unit_count=len(units), rankings=used,
                  inputs_sha256=inputs_digest(frozen, row.definition_version),
                  results_sha256=scoring.digest(annual_rules.result_rows(results)),
                  computed_at=clock.now(), computed_by=actor)
    async with in_transaction():
        if existing is None:
            last = await am.AnnualResult.filter(year=year, group=group.key) \
                .order_by("-revision").first()
            result = await am.AnnualResult.create(year=year, group=group.key, status="draft",
                                                  revision=(last.revision + 1) if last else 1,
                                                  **fields)
        else:
            if not await am.AnnualResult.filter(id=existing.id, status="draft").update(**fields):
                raise Conflict("annual_published", f"annual result #{existing.id} was "
                                                   f"published meanwhile", field="result")
            result = await am.AnnualResult.get(id=existing.id)
            await am.AnnualRow.filter(result_id=result.id).delete()
        await am.AnnualRow.bulk_create([_row(result.id, pos, r, frozen[r.code])
                                        for pos, r in enumerate(results)], batch_size=1000)
        await audit.record("ranking.annual.compute", "ranking_annual", result.id, after={
            "year": year, "group": group.key, "units": len(units), "rankings": used,
            "inputs_sha256": result.inputs_sha256, "results_sha256": result.results_sha256})
    return result


def _row(result_id: int, pos: int, r: annual_rules.YearResult,
         frozen: dict[str, Any]) -> am.AnnualRow:
    return am.AnnualRow(result_id=result_id, position=pos, unit_code=r.code, unit_name=r.name,
                        rank=r.rank, score=r.score, base=r.base, bonus=r.bonus,
                        deduction=r.deduction,
                        components={k: scoring.num(v) for k, v in r.components.items()},
                        band=r.band, grade=r.grade, rule=r.rule, notes=r.notes, inputs=frozen)


async def _changes(result: am.AnnualResult, rows: list[am.AnnualRow]
                   ) -> list[dict[str, Any]]:
    """Every frozen input that differs from what the inputs are today."""
    row, scheme, a = await current_annual()
    group = get_group(scheme, result.group)
    units = [u for u in await group_units(group) if u.code in {r.unit_code for r in rows}]
    inputs, sources, _ = await gather(a, scheme, group, units)
    now = frozen_inputs(result.year, [u.code for u in units], inputs, sources)
    out = []
    for r in rows:
        cur = now.get(r.unit_code, {})
        for key in sorted(set(r.inputs) | set(cur)):
            was, is_ = r.inputs.get(key), cur.get(key)
            if was is None or is_ is None or was["h"] != is_["h"]:
                out.append({"unit_code": r.unit_code, "unit_name": r.unit_name, "input": key,
                            "frozen": was["v"] if was else None,
                            "current": is_["v"] if is_ else None})
    return out


async def publish(result_id: int, actor: str | None = None) -> am.AnnualResult:
    """Freeze a draft and open its 公示 window; refused twice and when an input changed."""
    actor = actor or audit.current_actor()
    result = await get_result(result_id)
    if result.status != "draft":
        raise Conflict("already_published", f"annual result #{result.id} was published by "
                                             f"{result.published_by}; publishing twice is "
                                             f"refused", field="result")
    _, _, a = await current_annual()
    rows = await am.AnnualRow.filter(result=result).order_by("position")
    changes = await _changes(result, rows)
    if changes:
        raise Conflict("inputs_changed", f"{len(changes)} inputs changed since annual result "
                                         f"#{result.id} was computed: recompute first",
                       field="result", details=changes[:50])
    days = a.objection_days
    until = (await WorkCalendar.load()).add_working_days(today(), days) if days else None
    now = clock.now()
    async with in_transaction():
        if not await am.AnnualResult.filter(id=result.id, status="draft").update(
                status="objection" if until else "final", published_at=now, published_by=actor,
                objection_until=until, finalized_at=None if until else now):
            raise Conflict("already_published", f"annual result #{result.id} was published "
                                                f"meanwhile", field="result")
        await audit.record("ranking.annual.publish", "ranking_annual", result.id,
                           before={"status": "draft"},
                           after={"status": "objection" if until else "final",
                                  "objection_until": until,
                                  "inputs_sha256": result.inputs_sha256,
                                  "results_sha256": result.results_sha256})
    return await get_result(result.id)


async def verify(result_id: int) -> dict[str, Any]:
    """Are the frozen inputs intact, do they give the stored results, and what differs today."""
    result = await get_result(result_id)
    scheme_row = await models.Scheme.get(slug=result.definition_slug,
                                         definition_version=result.definition_version)
    from plugins.ranking.services import scheme_of

    a = await annual_of(scheme_row, scheme_of(scheme_row))
    rows = await am.AnnualRow.filter(result=result).order_by("position")
    tampered, values = [], {}
    for r in rows:
        vals = values.setdefault(r.unit_code, {})
        for key, x in r.inputs.items():
            v = Decimal(x["v"]) if x["v"] is not None else None
            vals[key] = v
            if scoring.input_hash(result.year, r.unit_code, key, v, x["s"]) != x["h"]:
                tampered.append({"unit_code": r.unit_code, "input": key, "stored": x["v"]})
    digest_ok = inputs_digest({r.unit_code: r.inputs for r in rows},
                              result.definition_version) == result.inputs_sha256
    replay = annual_rules.compute(a, [(r.unit_code, r.unit_name) for r in rows], values)
    replay_rows = {x["unit"]: x for x in annual_rules.result_rows(replay)}
    stored = {r.unit_code: _stored_row(r) for r in rows}
    diffs = [{"unit_code": c, "stored": stored[c], "replayed": replay_rows.get(c)}
             for c in stored if stored[c] != replay_rows.get(c)]
    reproduced = not diffs and scoring.digest(annual_rules.result_rows(replay)) == \
        result.results_sha256
    changes = await _changes(result, rows)
    return {"result_id": result.id, "year": result.year, "group": result.group,
            "status": result.status, "inputs_sha256": result.inputs_sha256,
            "results_sha256": result.results_sha256,
            "frozen_inputs_intact": not tampered and digest_ok, "tampered_inputs": tampered,
            "reproduced": reproduced, "result_differences": diffs,
            "inputs_unchanged": not changes, "changed_inputs": changes,
            "identical": not tampered and digest_ok and reproduced and not changes}


def _stored_row(r: am.AnnualRow) -> dict[str, Any]:
    def n(v: Any) -> str | None:
        return scoring.num(Decimal(str(v))) if v is not None else None

    return {"unit": r.unit_code, "rank": r.rank, "score": n(r.score), "base": n(r.base),
            "components": r.components, "bonus": n(r.bonus), "deduction": n(r.deduction),
            "band": r.band, "grade": r.grade, "rule": r.rule}


# -- bonus and deduction entries ----------------------------------------------------------------
async def add_adjustment(unit_code: str, item: str, points: Any, evidence: str,
                         actor: str | None = None) -> am.Adjustment:
    actor = actor or audit.current_actor()
    _, _, a = await current_annual()
    spec = a.item(item)
    if spec is None:
        raise Invalid("unknown_item", f"item: no bonus or deduction item '{item}' (known: "
                      f"{', '.join(i.key for i in a.items)})", field="item")
    value = scoring_value(points)
    if value is None or value <= 0 or value != value.quantize(Decimal("0.01")):
        raise Invalid("bad_points", f"points: expected a number > 0 with at most two decimals, "
                                    f"got {points!r}", field="points")
    if not (evidence or "").strip():
        raise Invalid("evidence_required", "evidence: say what the points are for (文件、事项)",
                      field="evidence")
    if not await OrgUnit.exists(code=unit_code):
        raise Invalid("unknown_unit", f"unit: no unit '{unit_code}'", field="unit")
    frozen = await am.AnnualResult.filter(year=a.year, status__in=PUBLISHED,
                                          rows__unit_code=unit_code).first()
    if frozen is not None:
        raise Conflict("annual_published", f"unit '{unit_code}': annual result #{frozen.id} is "
                                           f"published and froze its inputs", field="unit")
    async with in_transaction():
        entry = await am.Adjustment.create(year=a.year, unit_code=unit_code, item=item,
                                           points=value, evidence=evidence.strip(),
                                           entered_by=actor)
        await audit.record("ranking.annual.adjustment", "ranking_adjustment", entry.id,
                           after=audit.snapshot(entry))
    return entry


# -- objections during the 公示 ----------------------------------------------------------------
async def file_objection(result_id: int, user: Any, unit_code: str,
                         reason: str) -> am.AnnualObjection:
    from core.scope import scope_for

    result = await get_result(result_id)
    if result.status != "objection" or (result.objection_until and
                                        today() > result.objection_until):
        raise Conflict("objection_closed", f"annual result #{result.id} takes no objections "
                                           f"(window until {result.objection_until or '-'})",
                       field="result")
    if not (reason or "").strip():
        raise Invalid("reason_required", "reason: say what is wrong", field="reason")
    if not await am.AnnualRow.exists(result=result, unit_code=unit_code):
        raise Invalid("unit_not_graded", f"unit: '{unit_code}' is not in annual result "
                                         f"#{result.id}", field="unit")
    unit = await OrgUnit.get(code=unit_code)
    scope = await scope_for(user)
    if user.role != "admin" and not (scope.kind == "subtree" and scope.allows_unit_path(unit.path)):
        raise Forbidden("out_of_scope", f"unit: you may object only for your own unit, not "
                                        f"'{unit_code}'", field="unit")
    async with in_transaction():
        obj = await am.AnnualObjection.create(result=result, unit_code=unit_code,
                                              reason=reason.strip(), filed_by=user.username)
        await audit.record("ranking.annual.objection", "ranking_annual_objection", obj.id,
                           after=audit.snapshot(obj))
    return obj


async def resolve_objection(objection_id: int, decision: str, response: str,
                            actor: str | None = None) -> am.AnnualObjection:
    actor = actor or audit.current_actor()
    if decision not in ("upheld", "rejected"):
        raise Invalid("bad_decision", f"decision: '{decision}' is not upheld or rejected",
                      field="decision")
    if not (response or "").strip():
        raise Invalid("response_required", "response: give the reason", field="response")
    obj = await am.AnnualObjection.get_or_none(id=objection_id)
    if obj is None:
        raise NotFound("unknown_objection", f"objection: no objection #{objection_id}")
    if not await am.AnnualObjection.filter(id=obj.id, status="open").update(
            status=decision, response=response.strip(), resolved_by=actor,
            resolved_at=clock.now()):
        raise Conflict("objection_resolved", f"objection #{obj.id} is already {obj.status}")
    await audit.record("ranking.annual.objection.resolve", "ranking_annual_objection", obj.id,
                       after={"status": decision})
    return await am.AnnualObjection.get(id=obj.id)


async def finalize_due() -> list[int]:
    """Year results whose 公示 has passed with no open objection become final."""
    done = []
    for result in await am.AnnualResult.filter(status="objection", objection_until__lt=today()):
        if await am.AnnualObjection.exists(result=result, status="open"):
            continue
        if await am.AnnualResult.filter(id=result.id, status="objection").update(
                status="final", finalized_at=clock.now()):
            await audit.record("ranking.annual.finalize", "ranking_annual", result.id,
                               before={"status": "objection"}, after={"status": "final"})
            done.append(result.id)
    return done


async def year_periods(a: AnnualScheme) -> list[Period]:
    return await Period.filter(code__in=a.periods).order_by("start")
