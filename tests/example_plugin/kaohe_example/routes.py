"""The page (mounted at /example) and the JSON API (mounted at /api/example)."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.params import JSONBody
from litestar.response import Template

from core.roles import ADMIN_LEADER, ADMIN_ONLY
from core.security import current_user
from core.web import page
from kaohe_example import services

READERS = ADMIN_LEADER


@get("/", opt={"roles": READERS}, include_in_schema=False)
async def notes_page(request: Request) -> Template:
    greeting = request.app.state.settings.plugin("example").greeting
    return page(request, "example/index.html", notes=await services.notes(), greeting=greeting)


@get("/notes", opt={"roles": READERS})
async def api_notes() -> list[dict]:
    """Every note, newest first."""
    rows = await services.notes()
    return [{**r, "created_at": r["created_at"].isoformat()} for r in rows]


@post("/notes", opt={"roles": ADMIN_ONLY})
async def api_add_note(request: Request, data: JSONBody[dict[str, str]]) -> dict:
    """Add a note: {"text": "...", "unit": "520102"}."""
    note = await services.add_note(data.get("text", ""), data.get("unit"),
                                   current_user(request).username)
    return {"id": note.id, "text": note.text}


PAGES = [notes_page]
API = [api_notes, api_add_note]
