"""The HTML report in a real headless Chromium: it renders, the key parts are visible, the
charts have a size, no network request is attempted and the console stays clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from entra_lp.export.html import CHARTS, to_html

from . import samples as s

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.browser


def test_report_renders_offline_in_chromium(chromium_path: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    rec = s.recommendation()
    page_file = tmp_path / "report.html"
    page_file.write_text(to_html(rec, pseudonymize_salt="browser-test"), encoding="utf-8")
    shot = tmp_path / "report.png"
    requests: list[str] = []
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=ARGS)
        try:
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
            assert widths[1] < widths[0]
            for section in ("#metrics", "#roles", "#cannot-express", "#exclusions", "#attestation"):
                assert page.locator(section).is_visible()
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [u for u in requests if not u.startswith("file://")] == []
    assert requests == [page_file.as_uri()]
    assert problems == []
