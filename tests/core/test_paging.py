"""The pager: bounds, links that keep the filters, and htmx partial answers."""

from __future__ import annotations

from types import SimpleNamespace

from core.paging import Paged, clamp


def _request(path: str, **query: str) -> SimpleNamespace:
    return SimpleNamespace(url=SimpleNamespace(path=path), query_params=query)


def test_pages_and_positions() -> None:
    p = Paged.of(list(range(50)), 5300, 2, 50, _request("/users", q="王", page="2", msg="x"))
    assert (p.pages, p.first, p.last, p.has_prev, p.has_next) == (106, 51, 100, True, True)
    assert p.query == {"q": "王"}  # page, size and the flash message are not carried along
    assert p.url(page=3) == "/users?q=%E7%8E%8B&page=3&size=50"
    assert p.url(page=999) .endswith("page=106&size=50")


def test_empty_list_has_one_page() -> None:
    p = Paged.of([], 0, 1, 50, _request("/inbox"))
    assert (p.pages, p.first, p.last, p.has_next) == (1, 0, 0, False)


def test_clamp_bounds_page_and_size() -> None:
    assert clamp(0, 0) == (1, 1)
    assert clamp(3, 5000) == (3, 200)


def test_odd_size_is_offered_beside_the_usual_ones() -> None:
    assert Paged.of([], 0, 1, 30, None).sizes == (20, 30, 50, 100, 200)
