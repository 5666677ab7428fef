"""Answering a survey honestly: signed form tokens and device cookies, the address limit,
the minimum answering time, one response per device, replays refused.

Suspicious answers are stored with flags and excluded by the definition's rule; refused ones
(a replayed form, a second answer from one device, a flood) are never stored. A response is
acknowledged only after its row is committed, so an acknowledged response is never lost.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core import clock, i18n
from core.errors import Conflict, Invalid, KaoheError, NotFound
from core.orgs import OrgUnit
from core.sql import Sql
from plugins.satisfaction import locks, services
from plugins.satisfaction.config import CHOICES, SatisfactionSettings
from plugins.satisfaction.models import Response, Survey

DEVICE_COOKIE = "kaohe_device"
MAX_TEXT = 2000


class TooMany(KaoheError):
    status = 429


class BadForm(KaoheError):
    status = 400


def _t(lang: str, key: str, **kw: Any) -> str:
    return i18n.t(f"satisfaction.error.{key}", lang, **kw)


# -- signing ------------------------------------------------------------------------------------

def _mac(secret: str, purpose: str, data: bytes) -> str:
    key = hashlib.sha256(f"kaohe.satisfaction.{purpose}:{secret}".encode()).digest()
    return base64.urlsafe_b64encode(hmac.new(key, data, hashlib.sha256).digest()[:18]).decode()


def _same(given: str, expected: str) -> bool:
    # Bytes: compare_digest refuses non-ASCII text, which a forged value may well hold.
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(secret: str, survey: Survey, unit: OrgUnit, issued: float | None = None) -> str:
    # Issued on the platform clock, which a demo instance may pin to another day.
    issued = clock.now().timestamp() if issued is None else issued
    body = json.dumps({"s": survey.id, "u": unit.id, "t": int(issued),
                       "n": secrets.token_hex(16)}, separators=(",", ":")).encode()
    return f"{_b64(body)}.{_mac(secret, 'form', body)}"


def read_token(secret: str, token: str) -> dict[str, Any] | None:
    if not isinstance(token, str) or len(token) > 300:
        return None
    raw, _, mac = token.partition(".")
    try:
        body = _unb64(raw)
    except (ValueError, TypeError):
        return None
    if not _same(mac, _mac(secret, "form", body)):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    ok = isinstance(data, dict) and all(isinstance(data.get(k), int) for k in "sut") and \
        isinstance(data.get("n"), str) and len(data["n"]) == 32
    return data if ok else None


def new_device(secret: str) -> str:
    ident = secrets.token_hex(16)
    return f"{ident}.{_mac(secret, 'device', ident.encode())}"


def device_id(secret: str, cookie: str | None) -> str | None:
    ident, _, mac = (cookie or "").partition(".")
    if len(ident) != 32 or not _same(mac, _mac(secret, "device", ident.encode())):
        return None
    return ident


def device_hash(secret: str, survey: Survey, ident: str) -> str:
    return hmac.new(secret.encode(), f"{survey.id}:{ident}".encode(), hashlib.sha256).hexdigest()


def address_hash(survey: Survey, address: str) -> str | None:
    if not survey.salt:
        return None  # the survey is closed: addresses are no longer kept
    return hmac.new(survey.salt.encode(), address.encode(), hashlib.sha256).hexdigest()


# -- the survey a form belongs to ---------------------------------------------------------------

@dataclass
class _Cached:
    survey: Survey
    units: dict[str, OrgUnit]
    at: float


_cache: dict[str, _Cached] = {}
CACHE_SECONDS = 5.0  # a burst of answers reads the survey and its units once every few seconds


async def survey_and_unit(key: str, unit_code: str, lang: str) -> tuple[Survey, OrgUnit]:
    hit = _cache.get(key)
    if hit is None or time.monotonic() - hit.at > CACHE_SECONDS:
        survey = await Survey.get_or_none(key=key).prefetch_related("period")
        if survey is None:
            raise NotFound("unknown_survey", _t(lang, "unknown_survey"), field="survey")
        units = {u.code: u for u in await services.covered_units(survey)}
        hit = _cache[key] = _Cached(survey, units, time.monotonic())
    unit = hit.units.get(unit_code)
    if unit is None:
        raise NotFound("unit_not_covered", _t(lang, "unit_not_covered"), field="unit")
    return hit.survey, unit


def forget_cache() -> None:
    _cache.clear()


def check_open(survey: Survey, lang: str) -> None:
    st = services.state(survey)
    if st == "closed":
        raise Conflict("survey_closed", _t(lang, "survey_closed", closes=survey.closes.isoformat()),
                       status=410)
    if st == "not_open":
        raise Conflict("survey_not_open", _t(lang, "survey_not_open",
                                             opens=survey.opens.isoformat()))


async def already_answered(secret: str, survey: Survey, cookie: str | None) -> bool:
    ident = device_id(secret, cookie)
    return ident is not None and await Response.exists(
        survey_id=survey.id, device_hash=device_hash(secret, survey, ident))


# -- answers ------------------------------------------------------------------------------------

@dataclass
class Parsed:
    answers: dict[str, Any] = field(default_factory=dict)
    complaint: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def parse_answers(survey: Survey, form: dict[str, Any], lang: str) -> Parsed:
    """Every question checked; errors keyed by question key, in the respondent's language."""
    out = Parsed()
    for q in survey.spec["questions"]:
        raw = form.get(f"q_{q['key']}")
        raw = raw.strip() if isinstance(raw, str) else raw
        if raw in (None, ""):
            if q.get("required", True):
                out.errors[q["key"]] = _t(lang, "required", question=q["text"])
            continue
        if q["kind"] == "text":
            if not isinstance(raw, str):
                out.errors[q["key"]] = _t(lang, "bad_choice", question=q["text"])
                continue
            if len(raw) > MAX_TEXT:
                out.errors[q["key"]] = _t(lang, "too_long", question=q["text"], limit=MAX_TEXT)
                continue
            out.answers[q["key"]] = raw
            if q.get("complaint") and str(form.get(f"c_{q['key']}", "")) in ("1", "on", "true"):
                out.complaint = raw
            continue
        try:
            value = int(raw) if isinstance(raw, str | int) and not isinstance(raw, bool) else None
        except ValueError:
            value = None
        if value not in CHOICES[q["kind"]]:
            out.errors[q["key"]] = _t(lang, "bad_choice", question=q["text"])
            continue
        out.answers[q["key"]] = value
    return out


@dataclass
class Submission:
    survey_key: str
    unit_code: str
    form: dict[str, Any]
    address: str
    device_cookie: str | None
    lang: str = "zh"


@dataclass
class Outcome:
    response: Response
    new_device_cookie: str | None  # set it when the respondent had none


STATE_AND_COUNTS = """
SELECT s.frozen_at IS NOT NULL AS frozen,
  (SELECT count(*) FROM satisfaction_response r WHERE r.survey_id = s.id
     AND r.address_hash = {1} AND r.received_at >= {2}) AS in_window,
  (SELECT count(*) FROM satisfaction_response r WHERE r.survey_id = s.id
     AND r.address_hash = {1} AND r.received_at >= {3}) AS today
FROM satisfaction_survey s WHERE s.id = {0}"""


async def _state_and_counts(conn: Any, survey: Survey, ahash: str | None,
                            window_start: dt.datetime, day_start: dt.datetime
                            ) -> tuple[bool, int, int]:
    """Under the answer's locks: whether the survey is frozen now (another process may have
    frozen it since this one cached it), and the answers from this address within the rate
    window and since the local midnight (two counts on the (survey, address, time) index)."""
    q = Sql(conn)
    sql = STATE_AND_COUNTS.format(*(q.p(i) for i in range(1, 5)))
    rows = await conn.execute_query_dict(sql, [survey.id, ahash, window_start, day_start])
    if not rows:
        return True, 0, 0
    row = rows[0]
    return bool(row["frozen"]), int(row["in_window"]), int(row["today"])


async def submit(sub: Submission, secret: str, conf: SatisfactionSettings) -> Outcome:
    """Check and store one answer sheet, or raise a KaoheError naming what is wrong."""
    lang = sub.lang
    survey, unit = await survey_and_unit(sub.survey_key, sub.unit_code, lang)
    check_open(survey, lang)
    token = read_token(secret, str(sub.form.get("token", "")))
    if token is None or token["s"] != survey.id or token["u"] != unit.id:
        raise BadForm("bad_form", _t(lang, "bad_form"), field="token")
    now = clock.now()
    age = now.timestamp() - token["t"]
    if age > conf.form_hours * 3600 or age < -60:
        raise BadForm("form_expired", _t(lang, "form_expired"), field="token")
    parsed = parse_answers(survey, sub.form, lang)
    if parsed.errors:
        first = next(iter(parsed.errors))
        raise Invalid("missing_answer", parsed.errors[first], field=f"q_{first}",
                      details=parsed.errors)
    flags = []
    if age < survey.spec.get("min_seconds", 0):
        flags.append("too_fast")
    ident = device_id(secret, sub.device_cookie)
    new_cookie = None
    if ident is None:
        flags.append("no_device")
        new_cookie = new_device(secret)
    dhash = device_hash(secret, survey, ident) if ident else None
    ahash = address_hash(survey, sub.address)
    local = clock.local_now()
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    window_start = now - dt.timedelta(minutes=conf.rate_window_minutes)
    spec = survey.spec
    safety_key = spec.get("safety") or ""
    try:
        # Checks and insert in one transaction under the answer's locks (locks.py), so the
        # limit holds across processes and no answer lands in a survey frozen meanwhile.
        async with in_transaction() as conn:
            await locks.hold_answer(conn, survey.id, ahash)
            frozen, window, day = await _state_and_counts(conn, survey, ahash, window_start,
                                                          day_start)
            if frozen:
                raise Conflict("survey_closed", _t(lang, "survey_closed",
                                                   closes=survey.closes.isoformat()), status=410)
            if ahash is not None:
                if window >= conf.rate_limit:
                    raise TooMany("too_many", _t(lang, "too_many",
                                                 minutes=conf.rate_window_minutes))
                if day + 1 >= conf.busy_address:
                    flags.append("busy_address")
            excluded = bool(set(flags) & set(spec.get("exclude", [])))
            response = await Response.create(
                survey_id=survey.id, unit_id=unit.id, received_at=now,
                elapsed_seconds=int(age), nonce=token["n"], device_hash=dhash,
                address_hash=ahash, answers=parsed.answers, flags=",".join(flags),
                excluded=excluded, index_value=parsed.answers.get(spec.get("index", "overall")),
                safety_value=parsed.answers.get(safety_key) if safety_key else None,
                complaint=parsed.complaint, using_db=conn)
    except IntegrityError:
        if await Response.exists(nonce=token["n"]):
            raise Conflict("replayed_form", _t(lang, "replayed_form"), field="token") from None
        raise Conflict("already_answered", _t(lang, "already_answered"), field="device") from None
    if parsed.complaint:
        from plugins.satisfaction.events import announce_complaint

        await announce_complaint(response, survey, unit)
    return Outcome(response, new_cookie)
