"""One way to page a list: count and slice in the database, "共 N 条", page size in the URL.

A handler takes `page: PageNo = 1, size: PageSize = DEFAULT_SIZE` (core.params), builds its query and
calls `await paginate(qs, page, size, request)` (or `Paged.of(rows, total, …)` for raw SQL);
the template includes `_pager.html` with `pager=` that object. Filters stay in the links because
the pager rebuilds them from the request's own query string.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

SIZES = (20, 50, 100, 200)  # core.params.PageSize bounds a request's size by the largest
DEFAULT_SIZE = 50


@dataclass
class Paged:
    items: list[Any]
    total: int
    page: int
    size: int
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)  # the other filters, kept in links

    @classmethod
    def of(cls, items: list[Any], total: int, page: int, size: int, request: Any = None) -> Paged:
        path, query = "", {}
        if request is not None:
            path = request.url.path
            query = {k: v for k, v in request.query_params.items()
                     if k not in ("page", "size", "msg") and v != ""}
        return cls(list(items), total, page, size, path, query)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        """1-based position of the first item shown (0 when there is none)."""
        return 0 if not self.items else (self.page - 1) * self.size + 1

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1 if self.items else 0

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def sizes(self) -> tuple[int, ...]:
        return SIZES if self.size in SIZES else tuple(sorted((*SIZES, self.size)))

    def url(self, page: int | None = None, size: int | None = None) -> str:
        query = dict(self.query)
        query["page"] = str(min(max(1, page or self.page), self.pages))
        query["size"] = str(size or self.size)
        return f"{self.path}?{urlencode(query)}"

    @property
    def hidden(self) -> list[tuple[str, str]]:
        """The other filters, as hidden fields of the page-size form."""
        return list(self.query.items())


def clamp(page: int, size: int) -> tuple[int, int]:
    return max(1, page), min(max(1, size), max(SIZES))


async def paginate(qs: Any, page: int, size: int, request: Any = None) -> Paged:
    """Count and fetch one page of a Tortoise queryset (ordered by the caller). A page past the
    end shows the last page rather than an empty list."""
    page, size = clamp(page, size)
    total = await qs.count()
    pages = max(1, -(-total // size))
    page = min(page, pages)
    items = await qs.offset((page - 1) * size).limit(size)
    return Paged.of(items, total, page, size, request)


API_SIZE = max(SIZES)  # a JSON client gets the largest page unless it asks for less


def paged(body: Any, pager: Paged) -> Any:
    """One page of a JSON list as a response: the whole count and the page in headers, so the
    body stays the plain list (or the object holding the list)."""
    from litestar import Response  # here, so the pager itself stays free of the web framework

    return Response(body, headers={"X-Total-Count": str(pager.total), "X-Page": str(pager.page),
                                   "X-Page-Size": str(pager.size)})


def paged_headers() -> list[Any]:
    """The headers `paged` sends, for a handler's `response_headers=` so /schema shows them."""
    from litestar.datastructures import ResponseHeader

    return [ResponseHeader(name="X-Total-Count", documentation_only=True,
                           description="符合条件的总条数"),
            ResponseHeader(name="X-Page", documentation_only=True, description="本页页码"),
            ResponseHeader(name="X-Page-Size", documentation_only=True, description="每页条数")]
