"""Pages (/satisfaction) and JSON API (/api/satisfaction): the public survey form reached by
a short link or QR code, posters, and the results for admins and leaders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import msgspec
import segno
from litestar import Request, Response, get, post
from litestar.params import JSONBody, URLEncodedBody
from litestar.response import Redirect, Template

from core import clock, i18n
from core.errors import Invalid, KaoheError, NotFound
from core.orgs import OrgUnit
from core.params import Id, UnitCodeInPath, path_text
from core.roles import ADMIN_LEADER, ADMIN_ONLY
from core.web import language, page
from plugins.satisfaction import answering, services, shapes
from plugins.satisfaction.config import CHOICES
from plugins.satisfaction.jobs import conf_of
from plugins.satisfaction.models import Response as Answer
from plugins.satisfaction.models import Survey

SurveyKey = path_text(40)
ShortCode = path_text(64)

PUBLIC = {"public": True}
READERS = {"roles": ADMIN_LEADER}
ADMIN = {"roles": ADMIN_ONLY}
CSS = (Path(__file__).parent / "static" / "survey.css").read_bytes()


def _secret(request: Request) -> str:
    return request.app.state.settings.app.secret_key


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _base_url(request: Request) -> str:
    return request.app.state.settings.app.base_url.rstrip("/")


def choices(q: dict[str, Any], lang: str) -> list[tuple[int, str]]:
    if q["kind"] not in CHOICES:
        return []
    given = q.get("labels") or []
    return [(v, given[i] if given else i18n.t(f"satisfaction.choice.{q['kind']}.{v}", lang))
            for i, v in enumerate(CHOICES[q["kind"]])]


def _local(moment: dt.datetime) -> str:
    return moment.astimezone(clock.tz()).strftime("%Y-%m-%d %H:%M")


def _cookie(response: Any, request: Request, value: str) -> None:
    response.set_cookie(answering.DEVICE_COOKIE, value, httponly=True, samesite="lax",
                        secure=request.app.state.settings.security.secure_cookies,
                        max_age=400 * 24 * 3600, path="/")


# -- public: the survey form ------------------------------------------------------------------

@get("/static/survey.css", opt=PUBLIC, include_in_schema=False)
async def survey_css() -> Response:
    return Response(CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


@get("/k/{code:str}", opt=PUBLIC, include_in_schema=False)
async def short_link(request: Request, code: ShortCode) -> Redirect | Template:
    ids = services.parse_short_code(code)
    survey = await Survey.get_or_none(id=ids[0]) if ids else None
    unit = await OrgUnit.get_or_none(id=ids[1]) if ids else None
    if survey is None or unit is None:
        lang = language(request)
        return page(request, "satisfaction/message.html", status_code=404,
                    title=i18n.t("satisfaction.error.title", lang),
                    message=i18n.t("satisfaction.error.unknown_link", lang))
    return Redirect(path=f"/satisfaction/s/{survey.key}/{unit.code}", status_code=303)


def _form_page(request: Request, survey: Survey, unit: OrgUnit, token: str, status: int = 200,
               values: dict[str, Any] | None = None, errors: dict[str, str] | None = None
               ) -> Template:
    lang = language(request)
    return page(request, "satisfaction/form.html", status_code=status, survey=survey, unit=unit,
                token=token, questions=survey.spec["questions"], values=values or {},
                errors=errors or {}, choices=lambda q: choices(q, lang))


def _message(request: Request, exc: KaoheError, survey: Survey | None = None) -> Template:
    lang = language(request)
    return page(request, "satisfaction/message.html", status_code=exc.status,
                title=i18n.t("satisfaction.error.title", lang), message=exc.text(lang),
                survey=survey, code=exc.code)


@get("/s/{key:str}/{unit_code:str}", opt=PUBLIC, include_in_schema=False)
async def form_page(request: Request, key: SurveyKey, unit_code: UnitCodeInPath) -> Template:
    lang = language(request)
    secret = _secret(request)
    try:
        survey, unit = await answering.survey_and_unit(key, unit_code, lang)
        answering.check_open(survey, lang)
        cookie = request.cookies.get(answering.DEVICE_COOKIE)
        if await answering.already_answered(secret, survey, cookie):
            raise KaoheError("already_answered", i18n.t("satisfaction.error.already_answered",
                                                        lang), status=409)
    except KaoheError as exc:
        return _message(request, exc)
    response = _form_page(request, survey, unit, answering.make_token(secret, survey, unit))
    if answering.device_id(secret, cookie) is None:
        _cookie(response, request, answering.new_device(secret))
    response.headers["Cache-Control"] = "no-store"  # each view carries its own one-time token
    return response


@post("/s/{key:str}/{unit_code:str}", opt=PUBLIC, include_in_schema=False)
async def form_submit(request: Request, key: SurveyKey, unit_code: UnitCodeInPath,
                      data: URLEncodedBody[dict[str, str]]) -> Template:
    lang = language(request)
    sub = answering.Submission(key, unit_code, data, _address(request),
                               request.cookies.get(answering.DEVICE_COOKIE), lang)
    try:
        outcome = await answering.submit(sub, _secret(request), conf_of(request.app.state.settings))
    except Invalid as exc:  # a missing or wrong answer: the form again, answers kept
        survey, unit = await answering.survey_and_unit(key, unit_code, lang)
        return _form_page(request, survey, unit, data.get("token", ""), status=exc.status,
                          values=data, errors=exc.details or {})
    except KaoheError as exc:
        return _message(request, exc)
    response = page(request, "satisfaction/thanks.html", response_id=outcome.response.id,
                    complaint=bool(outcome.response.complaint))
    if outcome.new_device_cookie:
        _cookie(response, request, outcome.new_device_cookie)
    return response


# -- admin and leader pages -------------------------------------------------------------------

async def _survey_rows() -> list[dict[str, Any]]:
    out = []
    for s in await Survey.all().prefetch_related("period").order_by("-opens"):
        rows = await services.results(s)
        top = min(rows.values(), key=lambda r: r["path"].count("/"), default=None)
        out.append({"survey": s, "state": services.state(s), "top": top})
    return out


@get("/", opt=READERS, include_in_schema=False)
async def index_page(request: Request) -> Template:
    return page(request, "satisfaction/index.html", surveys=await _survey_rows())


@get("/surveys/{key:str}", opt=READERS, include_in_schema=False)
async def results_page(request: Request, key: SurveyKey) -> Template:
    survey = await services.get_survey(key)
    rows = await services.results_with_change(survey)
    complaints = await Answer.filter(survey_id=survey.id).exclude(complaint="").count()
    flagged = await Answer.filter(survey_id=survey.id).exclude(flags="").count()
    return page(request, "satisfaction/results.html", survey=survey, rows=rows,
                state=services.state(survey), complaints=complaints, flagged=flagged,
                live=services.state(survey) == "open", local=_local)


@get("/surveys/{key:str}/table", opt=READERS, include_in_schema=False)
async def results_table(request: Request, key: SurveyKey) -> Template:
    """The results table alone: the page polls it while the survey collects (htmx)."""
    survey = await services.get_survey(key)
    return page(request, "satisfaction/_results_table.html", survey=survey,
                rows=await services.results_with_change(survey),
                live=services.state(survey) == "open")


async def _posters(request: Request, survey: Survey) -> list[dict[str, Any]]:
    base = _base_url(request)
    out = []
    for unit in await services.covered_units(survey):
        url = f"{base}/satisfaction/k/{services.short_code(survey, unit)}"
        qr = segno.make(url, error="m")
        out.append({"unit": unit, "url": url,
                    "svg": qr.svg_inline(scale=8, border=2, dark="#000", omitsize=True)})
    return out


@get("/surveys/{key:str}/posters", opt=ADMIN, include_in_schema=False)
async def posters_page(request: Request, key: SurveyKey) -> Template:
    survey = await services.get_survey(key)
    return page(request, "satisfaction/posters.html", survey=survey,
                posters=await _posters(request, survey))


@get("/surveys/{key:str}/qr/{unit_code:str}", opt=ADMIN, include_in_schema=False)
async def qr_png(request: Request, key: SurveyKey, unit_code: UnitCodeInPath) -> Response:
    survey = await services.get_survey(key)
    unit = next((u for u in await services.covered_units(survey) if u.code == unit_code), None)
    if unit is None:
        raise NotFound("unit_not_covered", f"unit: survey '{key}' does not cover '{unit_code}'",
                       field="unit")
    import io

    buf = io.BytesIO()
    segno.make(f"{_base_url(request)}/satisfaction/k/{services.short_code(survey, unit)}",
               error="m").save(buf, kind="png", scale=10, border=2)
    return Response(buf.getvalue(), media_type="image/png")


@get("/responses/{response_id:int}", opt=ADMIN, include_in_schema=False)
async def response_page(request: Request, response_id: Id) -> Template:
    r = await Answer.get_or_none(id=response_id).prefetch_related("survey__period", "unit")
    if r is None:
        raise NotFound("unknown_response", f"response: no response #{response_id}")
    lang = language(request)
    items = []
    for q in r.survey.spec["questions"]:
        value = r.answers.get(q["key"])
        labels = dict(choices(q, lang))
        items.append((q["text"], labels.get(value, value) if value is not None else ""))
    return page(request, "satisfaction/response.html", r=r, items=items,
                flags=[f for f in r.flags.split(",") if f], local=_local)


# -- API -------------------------------------------------------------------------------------

def _survey_fields(s: Survey) -> dict[str, Any]:
    return {"key": s.key, "title": s.title, "period": s.period.code, "opens": s.opens.isoformat(),
            "closes": s.closes.isoformat(), "state": services.state(s),
            "frozen_at": s.frozen_at.isoformat() if s.frozen_at else None}


@get("/surveys", opt=READERS)
async def api_surveys() -> list[shapes.SurveyOut]:
    return [shapes.SurveyOut(**_survey_fields(s))
            for s in await Survey.all().prefetch_related("period")]


@get("/surveys/{key:str}/results", opt=READERS)
async def api_results(key: SurveyKey) -> shapes.ResultsOut:
    survey = await services.get_survey(key)
    units = msgspec.convert(await services.results_with_change(survey),
                            list[shapes.UnitResultOut])
    return shapes.ResultsOut(**_survey_fields(survey), units=units)


@get("/forms/{key:str}/{unit_code:str}", opt=PUBLIC)
async def api_form(request: Request, key: SurveyKey, unit_code: UnitCodeInPath
                   ) -> Response[shapes.FormOut]:
    lang = language(request)
    secret = _secret(request)
    survey, unit = await answering.survey_and_unit(key, unit_code, lang)
    answering.check_open(survey, lang)
    questions = [shapes.QuestionOut(
        key=q["key"], kind=q["kind"], text=q["text"], required=q.get("required", True),
        complaint=q.get("complaint", False), choices=[v for v, _ in choices(q, lang)],
        labels=[label for _, label in choices(q, lang)]) for q in survey.spec["questions"]]
    body = shapes.FormOut(survey=key, unit=unit.code, unit_name=unit.name, title=survey.title,
                          token=answering.make_token(secret, survey, unit), questions=questions)
    response = Response(body)
    cookie = request.cookies.get(answering.DEVICE_COOKIE)
    if answering.device_id(secret, cookie) is None:
        _cookie(response, request, answering.new_device(secret))
    return response


@post("/forms/{key:str}/{unit_code:str}", opt=PUBLIC, status_code=201)
async def api_submit(request: Request, key: SurveyKey, unit_code: UnitCodeInPath,
                     data: JSONBody[shapes.AnswersIn]) -> Response[shapes.SubmitOut]:
    """Answers as {"token": ..., "q_KEY": value, "c_KEY": true for a complaint}."""
    form = {k: (str(v) if isinstance(v, int | bool) and not k.startswith("c_") else
                ("1" if v is True else v)) for k, v in (data or {}).items()}
    sub = answering.Submission(key, unit_code, form, _address(request),
                               request.cookies.get(answering.DEVICE_COOKIE), language(request))
    outcome = await answering.submit(sub, _secret(request), conf_of(request.app.state.settings))
    r = outcome.response
    response = Response(shapes.SubmitOut(id=r.id, flags=[f for f in r.flags.split(",") if f],
                                         counted=not r.excluded), status_code=201)
    if outcome.new_device_cookie:
        _cookie(response, request, outcome.new_device_cookie)
    return response


PAGES = [survey_css, short_link, form_page, form_submit, index_page, results_page, results_table,
         posters_page, qr_png, response_page]
API = [api_surveys, api_results, api_form, api_submit]
