"""The chart component (core/templates/_chart.html): a long list shows its top and bottom with a
link to the full table, the scale starts at zero unless stated, every bar carries its value as
text, and in Chromium the labels are at least 12 px at a phone's and a desktop's width."""

from __future__ import annotations

import random
import re
from functools import partial
from pathlib import Path

import jinja2
import pytest

from core import i18n
from tests.browser import ARGS, CHROMIUM, MARKS

ROOT = Path(__file__).resolve().parents[2]


def _render(call: str, **data) -> str:
    i18n.load_core()
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROOT / "core" / "templates"),
                             autoescape=True)
    template = env.from_string('{% from "_chart.html" import chart with context %}' + call)
    return template.render(_=partial(i18n.t, lang="zh"), **data)


BAR = re.compile(r'<span class="bar-label">([^<]*)</span>\s*'
                 r'<span class="bar-track"><span class="bar" style="width: ([0-9.]+)%"></span>'
                 r'</span>\s*<span class="bar-value">([^<]*)</span>')


def _rows(html: str) -> list[tuple[str, str, float]]:
    """(label, value text, bar width %) of each bar, in order."""
    return [(label, value, float(width)) for label, width, value in BAR.findall(html)]


def _long_list(n: int = 93) -> tuple[list[str], list[float]]:
    rng = random.Random(17)
    labels = [f"第{i:02d}社区" for i in range(1, n + 1)]
    values = [round(rng.uniform(40, 99), 2) for _ in labels]
    return labels, values


def test_a_long_list_shows_its_top_and_bottom_with_a_link():
    labels, values = _long_list()
    html = _render("{{ chart('总分', labels, values, max_value=100, more_url='#ranking-table') }}",
                   labels=labels, values=values)
    rows = _rows(html)
    by_value = sorted(zip(labels, values, strict=True), key=lambda p: -p[1])
    assert [r[0] for r in rows] == [p[0] for p in by_value[:6] + by_value[-6:]]
    assert [r[1] for r in rows] == [f"{p[1]:.2f}" for p in by_value[:6] + by_value[-6:]]
    assert f"中间 {len(labels) - 12} 个未显示" in html and "共 93 个" in html
    assert '<a href="#ranking-table">查看全部 93 个 →</a>' in html
    # the scale starts at zero and ends at the stated 100: a bar is its value in per cent
    assert all(abs(width - float(text)) < 0.06 for _, text, width in rows)


def test_a_short_list_keeps_its_order_and_a_missing_value_shows_a_dash():
    labels = ["南明区", "云岩区", "花溪区"]
    html = _render("{{ chart('超期整改', labels, values, fmt='{:.0f}', more_url='/x') }}",
                   labels=labels, values=[6, None, 3])
    assert _rows(html) == [("南明区", "6", 100.0), ("云岩区", "—", 0.0), ("花溪区", "3", 50.0)]
    assert "/x" not in html and "未显示" not in html  # nothing left out, no link needed


def test_a_stated_start_of_the_scale_is_written_under_the_chart():
    html = _render("{{ chart('满意度', ['甲', '乙'], [90, 80], min_value=75, max_value=100, "
                   "unit='%') }}")
    assert _rows(html) == [("甲", "90.00%", 60.0), ("乙", "80.00%", 20.0)]
    assert "刻度从 75.00% 起，至 100.00%" in html
    assert "刻度" not in _render("{{ chart('t', ['甲'], [1]) }}")


@pytest.mark.parametrize("width", [390, 1280])
@MARKS[0]
@MARKS[1]
def test_labels_are_at_least_12_px_in_chromium(width):
    from playwright.sync_api import sync_playwright

    labels, values = _long_list()
    chart = _render("{{ chart('总分', labels, values, max_value=100, more_url='#t') }}",
                    labels=labels, values=values)
    css = (ROOT / "core" / "static" / "kaohe.css").read_text(encoding="utf-8")
    # as the dashboard shows it: inside a card of the panels' grid
    html = (f"<html><head><meta name='viewport' content='width=device-width'><style>{css}</style>"
            f"</head><body><main><div class='panels'><section class='card'>{chart}</section>"
            f"<section class='card'></section><section class='card'></section></div></main>"
            f"</body></html>")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.set_content(html)
            sizes = page.eval_on_selector_all(
                "figure.chart figcaption, figure.chart .bar-label, figure.chart .bar-value, "
                "figure.chart .bar-gap, figure.chart .chart-more a, figure.chart small",
                "els => els.map(e => parseFloat(getComputedStyle(e).fontSize))")
            assert len(sizes) >= 12 * 2 + 3 and min(sizes) >= 12, sizes
            assert page.locator("figure.chart .bar-row").count() == 12
            # the labels are readable: wide enough for a few characters, not squeezed
            widths = page.eval_on_selector_all("figure.chart .bar-label",
                                               "els => els.map(e => e.getBoundingClientRect().width)")
            assert min(widths) >= 5 * 12, widths
        finally:
            browser.close()
