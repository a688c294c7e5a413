"""Markdown and HTML reports: content, pseudonymisation without leaks, no secrets, determinism."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from entra_lp.export.html import CHARTS, bar_chart, to_html
from entra_lp.export.markdown import change, fmt, to_markdown
from entra_lp.recommendation import Recommendation

from . import samples as s


@pytest.fixture(scope="module")
def rec() -> Recommendation:
    return s.recommendation()


def sections(md: str) -> list[str]:
    return re.findall(r"^## (.+)$", md, re.M)


def test_markdown_has_every_part(rec: Recommendation) -> None:
    md = to_markdown(rec)
    assert sections(md) == [
        "Summary",
        "Metrics",
        "Roles",
        "What Entra cannot express",
        "Exclusions",
        "Attestation",
        "Options",
    ]
    assert re.findall(r"^### (.+)$", md, re.M) == [r.display_name for r in rec.roles]
    for role in rec.roles:
        for action in role.actions:
            assert action in md
    for sentence in rec.cannot_express:
        assert sentence in md
    for item in rec.attestation:
        assert item.action in md
    # metrics table: one column per metric set, the proposal's figures in it
    header = next(line for line in md.splitlines() if line.startswith("| Measure"))
    assert header.count("|") == 2 + 4
    assert "| Over-privilege (risk-weighted) | 412 | 4.50 | 0 | 175 |" in md
    assert "| Replay coverage | – | 99.71 % | – | – |" in md
    # every PIM choice is shown with its reason
    assert "| Maximum activation | 4 h | 95th percentile session 4 h (tier cap applies) |" in md
    assert "act as the Payroll API service principal" in md
    assert "Create a role-assignable security group" in md
    assert "−98.9 %" in md and "−99.7 %" in md


def test_numbers_for_people() -> None:
    assert [fmt(9400.0), fmt(4.5), fmt(12.34), fmt(None), fmt(0.99712, percent=True)] == [
        "9,400",
        "4.50",
        "12.3",
        "–",
        "99.71 %",
    ]
    assert [change(412, 4.5), change(5, 6), change(0, 0), change(0, 3)] == [
        "−98.9 %",
        "+20.0 %",
        "0 %",
        "n/a",
    ]


def test_reports_without_metrics_or_window(rec: Recommendation) -> None:
    bare = rec.model_copy(
        update={"metrics": None, "window_start": None, "window_end": None, "options": {}}
    )
    md = to_markdown(bare)
    assert "Metrics" not in sections(md) and "no audit window (design)" in md
    page = to_html(bare)
    assert "No metrics were computed." in page and "<svg" not in page


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tags: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name == "id" and value:
                self.ids.append(value)
            if name in ("src", "href") and value and not value.startswith("#"):
                self.urls.append(value)


def test_html_is_self_contained_and_complete(rec: Recommendation) -> None:
    page = to_html(rec)
    parser = _Text()
    parser.feed(page)
    assert parser.urls == []  # nothing to fetch: no src, no external href
    assert "script" not in parser.tags and "link" not in parser.tags
    assert "default-src 'none'" in page
    for cid, _, _ in CHARTS:
        assert cid in parser.ids
    assert {f"role-{r.key}" for r in rec.roles} <= set(parser.ids)
    assert {"summary", "metrics", "roles", "cannot-express", "exclusions", "attestation"} <= set(
        parser.ids
    )
    assert "@import" not in page and "url(" not in page


def test_bar_chart_scales_to_the_largest_value() -> None:
    svg = bar_chart("c", "t", [("a", 10.0, "bar-current"), ("b", 2.5, "bar-proposed")])
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]
    assert widths == [160.0, 40.0]
    assert re.search(r'<svg[^>]*width="380"[^>]*height="\d+"', svg)
    empty = bar_chart("z", "t", [("a", 0.0, "bar-current")])
    assert 'width="0.0"' in empty  # a zero never divides by zero


def test_pseudonymised_reports_leak_no_name_or_id(rec: Recommendation) -> None:
    for text in (
        to_markdown(rec, pseudonymize_salt="workshop-7"),
        to_html(rec, pseudonymize_salt="workshop-7"),
    ):
        low = text.lower()
        for pid, name in s.PEOPLE:
            assert pid.lower() not in low, pid
            if name:
                assert name.lower() not in low, name
                assert name.split("@")[0].lower() not in low, name
        assert "secops@contoso.example" not in low
        assert "principal names are pseudonymised" in text
        assert re.search(r"User [0-9A-F]{8}", text) and re.search(r"App [0-9A-F]{8}", text)
    # stable per salt, different across salts
    assert to_html(rec, pseudonymize_salt="workshop-7") == to_html(
        rec, pseudonymize_salt="workshop-7"
    )
    assert to_html(rec, pseudonymize_salt="workshop-7") != to_html(rec, pseudonymize_salt="other")


def test_secrets_are_never_written(rec: Recommendation) -> None:
    tricky = rec.model_copy(
        update={
            "options": {
                "client_secret": "s3cr3t-never-written",
                "access_token": "eyJhbGciOi.payload.sig",
                "note": "eyJraWQiOi-looks-like-a-jwt",
                "seed": 7,
            }
        }
    )
    for text in (to_markdown(tricky), to_html(tricky)):
        assert "s3cr3t" not in text and "eyJ" not in text
        assert "(redacted)" in text and "seed" in text


def test_reports_are_deterministic(rec: Recommendation) -> None:
    assert to_markdown(rec) == to_markdown(s.recommendation())
    assert to_html(rec) == to_html(s.recommendation())
    assert to_html(rec).encode() == to_html(Recommendation.from_json(rec.to_json())).encode()
