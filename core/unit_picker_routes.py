"""GET /units/find: the unit picker's choices. htmx asks for the list of choices beside a form's
unit field; without JavaScript the same address is a page where the user searches, narrows
district → community → grid and picks, and is sent back to the form with the code filled in."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from litestar import Request, get
from litestar.params import QueryParameter
from litestar.response import Template

from core import i18n, unit_picker, web
from core.orgs import OrgUnit
from core.params import Search, Slug, UnitCode
from core.roles import ALL
from core.security import current_user

EVERYONE = {"roles": ALL}
FIELD_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
FieldName = Annotated[str, QueryParameter(max_length=32)]


def _with(path: str, **params: str) -> str:
    """`path` (already checked local) with `params` set in its query."""
    parts = urlsplit(path)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(params)
    return urlunsplit(("", "", parts.path, urlencode(query), ""))


def _find_url(**params: str) -> str:
    return "/units/find?" + urlencode({k: v for k, v in params.items() if v})


@get("/units/find", opt=EVERYONE, include_in_schema=False)
async def unit_find(request: Request, q: Search = None, parent: UnitCode = None,
                    level: Slug = None, field: FieldName = "unit") -> Template:
    lang = web.language(request)
    field = field if FIELD_RE.match(field or "") else "unit"
    # `return` is a Python word: read from the query as is, kept to a path on this site.
    back = web.local_path((request.query_params.get("return") or "/")[:500])
    # htmx sends the field's own value under the field's name.
    q = (q if q is not None else request.query_params.get(field, "")).strip()[:100]
    levels = unit_picker._levels(level)
    reach = await unit_picker.reach_for(current_user(request))
    top = await unit_picker.top(reach)
    here = await OrgUnit.get_or_none(code=parent) if parent else None
    if here is not None and not reach.allows(here):
        here = None
    units = await unit_picker.search(q, reach=reach, parent=here, levels=levels)
    narrowable = await unit_picker.with_children(units)
    level_key = ",".join(levels)

    def choice(u: OrgUnit) -> dict[str, Any]:
        return {"code": u.code, "name": u.name,
                "level": i18n.t(f"units.level_{u.level}", lang) if u.level else "",
                # the parent is loaded for search results only (select_related)
                "parent": u.parent.name if isinstance(u.parent, OrgUnit) else "",
                "pickable": not levels or u.level in levels,
                "pick_url": _with(back, **{field: u.code}),
                "narrow_url": _find_url(field=field, level=level_key, parent=u.code,
                                        **{"return": back}) if u.id in narrowable else ""}

    start = here or (top if not q else None)
    crumbs = [c for c in await unit_picker.chain(start) if reach.allows(c)] if start else []
    context = {
        "field": field, "q": q, "level_key": level_key, "back": back,
        "parent": here.code if here else "",
        "choices": [choice(u) for u in units], "limit": unit_picker.LIMIT,
        "here": choice(start) if start and reach.allows(start) else None,
        "crumbs": [(c.name, _find_url(field=field, level=level_key, parent=c.code,
                                      **{"return": back})) for c in crumbs],
        "levels_text": unit_picker.level_names(levels, lang) if levels else "",
        "hx": request.headers.get("hx-request") == "true",
    }
    if context["hx"]:
        return Template(template_name="_unit_choices.html",
                        context={**context, "_": lambda key, **p: i18n.t(key, lang, **p)},
                        headers={"Vary": "HX-Request"})
    return web.page(request, "unit_find.html", **context)


HANDLERS = [unit_find]
