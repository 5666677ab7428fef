"""Panels (民主测评): raters with an account or a one-time code each cast one ballot scoring
the units of a peer group on the definition's scale; per unit the trimmed mean, with the
response rate, used only from the definition's minimum number of raters."""

from __future__ import annotations

import hashlib
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core import audit, clock
from core.accounts import User
from core.errors import Conflict, Forbidden, Invalid, NotFound
from plugins.ranking import annual_models as am
from plugins.ranking.annual_rules import trimmed_mean
from plugins.ranking.annual_scheme import Panel
from plugins.ranking.scoring import num, q2

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed


def code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().replace("-", "").encode()).hexdigest()


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


async def open_round(panel: Panel, year: str, group: str, raters: list[str], codes: int = 0,
                     labels: list[str] | None = None,
                     actor: str | None = None) -> tuple[am.PanelRound, list[str]]:
    """Open a panel for a group; returns the round and the one-time codes (shown once)."""
    actor = actor or audit.current_actor()
    known = set(await User.filter(username__in=raters, is_active=True)
                .values_list("username", flat=True))
    unknown = [r for r in raters if r not in known]
    if unknown:
        raise Invalid("unknown_rater", f"raters: no active account {', '.join(unknown)}",
                      field="raters")
    if isinstance(codes, bool) or not isinstance(codes, int) or not 0 <= codes <= 500:
        raise Invalid("bad_codes", "codes: a whole number of one-time codes, 0–500",
                      field="codes")
    if await am.PanelRound.exists(year=year, panel=panel.key, group=group):
        raise Conflict("panel_exists", f"panel '{panel.key}' of {year} for '{group}' is "
                                       f"already open", field="panel")
    plain = [new_code() for _ in range(codes)]
    labels = labels or []
    async with in_transaction():
        rnd = await am.PanelRound.create(year=year, panel=panel.key, group=group,
                                         raters=sorted(set(raters)))
        await am.RaterCode.bulk_create([
            am.RaterCode(round_id=rnd.id, code_sha256=code_hash(c),
                         label=labels[n] if n < len(labels) else "")
            for n, c in enumerate(plain)])
        await audit.record("ranking.panel.open", "ranking_panel", rnd.id,
                           after={"panel": panel.key, "year": year, "group": group,
                                  "raters": len(rnd.raters), "codes": codes})
    return rnd, plain


async def get_round(round_id: int) -> am.PanelRound:
    rnd = await am.PanelRound.get_or_none(id=round_id)
    if rnd is None:
        raise NotFound("unknown_panel", f"panel: no panel #{round_id}", field="panel")
    return rnd


async def cast(rnd: am.PanelRound, panel: Panel, unit_codes: list[str],
               scores: dict[str, Any], user: User | None = None, code: str = "") -> am.Ballot:
    """One rater's ballot: every score on the scale, every unit in the group, cast once."""
    if rnd.status != "open":
        raise Conflict("panel_closed", f"panel #{rnd.id} is closed", field="panel")
    if user is not None:
        if user.username not in rnd.raters:
            raise Forbidden("not_a_rater", f"rater: '{user.username}' is not on panel "
                                           f"'{panel.name}'", field="rater")
        rater = f"user:{user.username}"
        code_row = None
    else:
        code_row = await am.RaterCode.get_or_none(round=rnd, code_sha256=code_hash(code or ""))
        if code_row is None:
            raise Forbidden("bad_code", "code: this one-time code is not valid for this panel",
                            field="code")
        rater = f"code:{code_row.id}"
    if await am.Ballot.exists(round=rnd, rater=rater):
        who = user.username if user is not None else "this code"
        raise Conflict("already_rated", f"rater: {who} has already scored panel "
                                        f"'{panel.name}'; a rater scores once", field="rater")
    members, parsed, errors = set(unit_codes), {}, []
    for unit, raw in scores.items():
        if unit not in members:
            errors.append(f"scores.{unit}: not a unit of this panel")
            continue
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue  # a rater may leave a unit they cannot judge
        try:
            value = Decimal(str(raw).strip())
        except InvalidOperation:
            errors.append(f"scores.{unit}: '{raw}' is not a number")
            continue
        if not value.is_finite() or not panel.scale_min <= value <= panel.scale_max:
            errors.append(f"scores.{unit}: {raw} is outside the scale "
                          f"{num(panel.scale_min)}–{num(panel.scale_max)}")
            continue
        parsed[unit] = num(value)
    if errors:
        raise Invalid("ballot_invalid", "; ".join(errors[:5]) + "; nothing was saved",
                      field="scores", details=errors)
    if not parsed:
        raise Invalid("ballot_empty", "scores: score at least one unit", field="scores")
    try:
        async with in_transaction():
            if code_row is not None and not await am.RaterCode.filter(
                    id=code_row.id, used_at__isnull=True).update(used_at=clock.now()):
                raise Conflict("already_rated", "code: this one-time code has already been "
                                                "used; a rater scores once", field="code")
            ballot = await am.Ballot.create(round=rnd, rater=rater, scores=parsed)
    except IntegrityError:  # the same rater in two requests at once: one ballot wins
        raise Conflict("already_rated", "rater: this rater has already scored; a rater "
                                        "scores once", field="rater") from None
    return ballot


async def close_round(rnd: am.PanelRound) -> None:
    await am.PanelRound.filter(id=rnd.id).update(status="closed")
    await audit.record("ranking.panel.close", "ranking_panel", rnd.id,
                       before={"status": rnd.status}, after={"status": "closed"})


async def tally(rnd: am.PanelRound, panel: Panel) -> dict[str, Any]:
    """Per unit: scores received, trimmed mean (None below the minimum), and the response rate."""
    ballots = await am.Ballot.filter(round=rnd)
    invited = len(rnd.raters) + await am.RaterCode.filter(round=rnd).count()
    per_unit: dict[str, list[Decimal]] = {}
    for b in ballots:
        for unit, text in b.scores.items():
            per_unit.setdefault(unit, []).append(Decimal(text))
    units = {u: (trimmed_mean(s, panel.trim, panel.min_raters), len(s))
             for u, s in per_unit.items()}
    rate = q2(Decimal(len(ballots)) * 100 / invited) if invited else None
    return {"ballots": len(ballots), "invited": invited, "response_rate": rate, "units": units}


async def panel_scores(year: str, panel: Panel, group: str) -> dict[str, tuple[Decimal | None, int]]:
    rnd = await am.PanelRound.get_or_none(year=year, panel=panel.key, group=group)
    if rnd is None:
        return {}
    return (await tally(rnd, panel))["units"]
