"""The HTML report in a real headless Chromium: it renders, the key parts are visible, the
charts have a size and their labels fit, no network request is attempted, the console stays
clean; and the demo's report stays short and never wider than the screen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from entra_lp.export.html import CHARTS, to_html

from . import samples as s
from .demo import demo_recommendation, demo_validation

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MAX_DEMO_HEIGHT = 15_000
"""Pixels at 1280 px wide with every ``<details>`` closed (the first report was ~77,000)."""

pytestmark = pytest.mark.browser

# Elements whose content is wider than their own box (text spilling out of a table cell).
SPILLING = """() => [...document.querySelectorAll('td, th, li, dd, p, summary, figcaption, h2, h3')]
  .filter(e => e.getClientRects().length && getComputedStyle(e).display !== 'inline'
               && e.scrollWidth > e.clientWidth + 1)
  .map(e => e.tagName + ': ' + e.textContent.slice(0, 80))"""
# Elements reaching past the right edge of the window.
PAST_EDGE = """() => { const w = document.documentElement.clientWidth;
  return [...document.querySelectorAll('body *')]
    .filter(e => { const r = e.getBoundingClientRect(); return r.width && r.right > w + 0.5; })
    .map(e => e.tagName + '.' + e.getAttribute('class')); }"""
# Chart texts drawn outside their SVG's drawing area (a cut-off value label), or row labels
# running into the bars.
CLIPPED = """() => [...document.querySelectorAll('svg.chart')].flatMap(svg => {
  const w = svg.viewBox.baseVal.width;
  const bars = Math.min(...[...svg.querySelectorAll('rect')].map(r => r.x.baseVal.value));
  return [...svg.querySelectorAll('text')]
    .filter(t => {
      const b = t.getBBox(), right = b.x + b.width;
      const label = !t.classList.contains('value') && !t.classList.contains('axis');
      return b.x < -0.5 || right > w + 0.5 || (label && right > bars); })
    .map(t => svg.id + ': ' + t.textContent); })"""


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def test_report_renders_offline_in_chromium(browser: Any, tmp_path: Path) -> None:
    rec = s.recommendation()
    page_file = tmp_path / "report.html"
    page_file.write_text(to_html(rec, pseudonymize_salt="browser-test"), encoding="utf-8")
    shot = tmp_path / "report.png"
    requests: list[str] = []
    problems: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("request", lambda r: requests.append(r.url))
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(page_file.as_uri(), wait_until="load")
    page.screenshot(path=str(shot), full_page=True)

    assert page.title() == "Least-privilege recommendation"
    assert page.locator("#summary").is_visible()
    assert page.locator("#summary .tile").count() == 4
    assert page.locator("#summary dl.headline dt").all_inner_texts() == [
        "Changes",
        "Effect",
        "Safety",
    ]
    cards = page.locator("article.role-card")
    assert cards.count() == len(rec.roles)
    for role in rec.roles:
        card = page.locator(f'article.role-card[data-role-key="{role.key}"]')
        assert card.is_visible()
        assert role.display_name in card.locator("h3").inner_text()
    assert rec.metrics is not None
    bars_per_chart = len(rec.metrics.baselines) + 2  # current, proposed, baselines
    for chart_id, _, _ in CHARTS:
        box = page.locator(f"svg#{chart_id}").bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 50
        bars = page.locator(f"svg#{chart_id} rect")
        assert bars.count() == bars_per_chart
    # the proposal's bar is drawn, and narrower than the current state's
    widths = page.eval_on_selector_all(
        "svg#chart-exposure rect", "rs => rs.map(r => r.getBoundingClientRect().width)"
    )
    assert 0 < widths[1] < widths[0]
    for section in ("#metrics", "#roles", "#cannot-express", "#exclusions", "#attestation"):
        assert page.locator(section).is_visible()
    # a closed disclosure hides its content and opens without script
    settings = page.locator("article.role-card details:has(ul.pim)").first
    assert not settings.locator("ul.pim").is_visible()
    settings.locator("summary").click()
    assert settings.locator("ul.pim").is_visible()
    assert settings.locator("ul.pim li").count() == 10
    page.close()
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [u for u in requests if not u.startswith("file://")] == []
    assert requests == [page_file.as_uri()]
    assert problems == []


@pytest.fixture(scope="module")
def demo_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "report.html"
    page = to_html(demo_recommendation(), pseudonymize_salt="demo", validation=demo_validation())
    path.write_text(page, encoding="utf-8")
    return path


@pytest.mark.parametrize("width", [1280, 800])
def test_demo_report_is_short_and_never_wider_than_the_screen(
    browser: Any, demo_page: Path, width: int
) -> None:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(demo_page.as_uri(), wait_until="load")
    closed = page.evaluate("document.documentElement.scrollHeight")
    assert page.evaluate("document.querySelectorAll('details[open]').length") == 0
    if width == 1280:
        assert closed < MAX_DEMO_HEIGHT
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.evaluate(PAST_EDGE) == []
    assert page.evaluate(SPILLING) == []
    assert page.evaluate(CLIPPED) == []  # e.g. the 1.37 M exposure label is whole
    assert page.locator("#denied table.denied tbody tr").count() > 0  # the replay's denials
    # every list is still there behind its disclosure, and opening them all keeps the width
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert page.evaluate("document.documentElement.scrollHeight") > 2 * closed
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.evaluate(SPILLING) == []
    page.close()
