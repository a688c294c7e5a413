"""Markdown and HTML reports: content, what each number counts, grouping and collapsing of long
lists, charts, pseudonymisation without leaks, no secrets, determinism."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from entra_lp.directory import PimSettings
from entra_lp.errors import RecommendationError
from entra_lp.export.html import CHARTS, LOG_RATIO, bar_chart, to_html
from entra_lp.export.markdown import change, compact, fmt, plain_reason, to_markdown
from entra_lp.recommendation import AttestationItem, PimDecision, Recommendation, ScopeChoice
from entra_lp.validate import DeniedOperation, ValidationReport

from . import samples as s
from .demo import demo_recommendation


@pytest.fixture(scope="module")
def rec() -> Recommendation:
    return s.recommendation()


def sections(md: str) -> list[str]:
    return re.findall(r"^## (.+)$", md, re.M)


def text_of(page: str) -> str:
    """The page's visible text with tags removed and whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", page.rsplit("</style>", maxsplit=1)[-1]).split())


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
    # metrics table: one column per metric set, then the change and the better direction
    header = next(line for line in md.splitlines() if line.startswith("| Measure"))
    assert header.count("|") == 2 + 4 + 2
    row = "| Over-privilege (risk-weighted) | 412 | 4.50 | 0 | 175 | −98.9 % (better) | lower |"
    assert row in md
    assert "| Replay coverage | – | 99.71 % | – | – | – | higher |" in md
    assert "| Role definitions | 5 | 6 | 9 | 4 | +20.0 % (worse) | lower |" in md
    # each measure says what it counts
    assert "- **Role definitions**: Distinct role definitions in use" in md
    # every PIM choice is shown with its reason
    assert "| Maximum activation | 4 h | 95th percentile session 4 h (tier cap applies) |" in md
    assert "act as the Payroll API service principal" in md
    assert "Create a role-assignable security group" in md
    # the three summary lines: what changes, what it buys, why it is safe
    summary = md.split("## Summary", 1)[1].split("## Metrics", 1)[0]
    assert re.findall(r"^- \*\*(\w+):\*\*", summary, re.M) == ["Changes", "Effect", "Safety"]
    assert "falls 98.9 % (412 → 4.50)" in summary and "falls 99.7 % (9,400 → 26" in summary
    assert "allows 99.71 %" in summary and "12 operations would be denied" in summary


def test_numbers_for_people() -> None:
    assert [fmt(9400.0), fmt(4.5), fmt(12.34), fmt(None), fmt(0.99712, percent=True)] == [
        "9,400",
        "4.50",
        "12.3",
        "–",
        "99.71 %",
    ]
    # large figures lose their decimals; charts use a short form that always fits
    assert [fmt(1_366_969.878), fmt(2906.9), fmt(999.5)] == ["1,366,970", "2,907", "999.5"]
    assert [compact(1_366_969.878), compact(17_491.058), compact(67_674.464)] == [
        "1.37 M",
        "17.5 k",
        "67.7 k",
    ]
    assert [compact(9999.0), compact(0.0), compact(999_600.0)] == ["9,999", "0", "1 M"]
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
    assert "not yet replayed on a later window" in md.lower()
    page = to_html(bare)
    assert "No metrics were computed." in page and "<svg" not in page


def test_summary_says_all_and_unchanged_plainly(rec: Recommendation) -> None:
    eligible = tuple(a for a in rec.assignments if a.assignment_type == "eligible")
    assert rec.metrics is not None and rec.metrics.current is not None
    flat = rec.metrics.current.model_copy(update={"standing_control_plane_hours": 26.0})
    changed = rec.model_copy(
        update={
            "assignments": eligible,
            "metrics": rec.metrics.model_copy(update={"current": flat}),
        }
    )
    md = to_markdown(changed)
    assert f"All {len(eligible)} assignments are eligible (activated just in time)." in md
    assert "standing control-plane exposure stays at 26 action-hours." in md
    tile = re.search(r"exposure \(action-hours\)</div><div class=\"value\">26</div>"
                     r'<div class="delta (\w+)">([^<]+)<', to_html(changed))
    assert tile is not None and tile.groups() == ("same", "same as today")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.open_details = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name == "id" and value:
                self.ids.append(value)
            if name in ("src", "href") and value and not value.startswith("#"):
                self.urls.append(value)
            if tag == "details" and name == "open":
                self.open_details += 1


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
    # long lists are collapsed, and every disclosure starts closed
    assert parser.tags.count("details") > len(rec.roles) and parser.open_details == 0


def test_bar_chart_scales_to_the_largest_value() -> None:
    svg = bar_chart("c", "t", [("a", 10.0, "bar-current"), ("b", 2.5, "bar-proposed")])
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]
    assert widths == [130.0, 32.5]
    assert "<line" not in svg and "logarithmic" not in svg
    empty = bar_chart("z", "t", [("a", 0.0, "bar-current")])
    assert 'width="0.0"' in empty  # a zero never divides by zero


def _value_labels(svg: str) -> list[tuple[float, str]]:
    found = re.findall(r'<text class="value" x="([\d.]+)"[^>]*>([^<]+)<', svg)
    return [(float(x), t) for x, t in found]


def test_bar_chart_uses_a_log_axis_when_values_span_decades() -> None:
    rows = [
        ("Current", 1_366_969.878, "bar-current"),
        ("Proposed", 17_491.058, "bar-proposed"),
        ("One role per principal", 67_674.464, "bar-baseline"),
        ("Zero", 0.0, "bar-baseline"),
    ]
    svg = bar_chart("x", "Exposure", rows)
    assert "(logarithmic scale)" in svg
    axis = re.findall(r'<text class="axis"[^>]*>([^<]+)<', svg)
    assert axis == ["10 k", "100 k", "1 M", "10 M"]  # one gridline per power of ten
    assert len(re.findall(r'<line class="grid"', svg)) == len(axis)
    current, proposed, union, zero = (
        float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)
    )
    assert current > union > proposed > 0.1 * current and zero == 0.0  # small bars stay visible
    # every value label is short and sits inside the drawing (≈ 7.5 px per character at 13 px)
    width = float(re.search(r'<svg[^>]*width="(\d+)"', svg)[1])  # type: ignore[index]
    labels = _value_labels(svg)
    assert [t for _, t in labels] == ["1.37 M", "17.5 k", "67.7 k", "0"]
    assert all(x + 7.5 * len(t) <= width for x, t in labels)
    # below the threshold the axis stays linear
    ratio = LOG_RATIO * 0.9
    assert "logarithmic" not in bar_chart("y", "t", [("a", ratio, "c"), ("b", 1.0, "c")])


def test_role_count_says_what_it_counts(rec: Recommendation) -> None:
    # the same built-in role used directly and through a PIM-for-Groups group: two proposals,
    # one role definition (what the n_roles measure counts)
    group = rec.role("auth-methods-group")
    direct = group.model_copy(
        update={"key": "auth-admin-direct", "kind": "builtin", "display_name": "Auth admin"}
    )
    twice = rec.model_copy(update={"roles": (*rec.roles, direct)})
    page, md = to_html(twice), to_markdown(twice)
    assert "<h2>Roles: 7 proposals, 6 role definitions</h2>" in page
    for text in (text_of(page), md):
        assert "7 proposals using 6 role definitions" in text
        assert "Authentication Administrator (used directly and through a group) counts" in text
        assert "4 new custom roles, 2 built-in roles assigned directly and 1 through" in text
    assert "<h2>Roles: 6 proposals, 6 role definitions</h2>" in to_html(rec)


def test_changes_are_coloured_by_whether_they_help(rec: Recommendation) -> None:
    page = to_html(rec)
    tiles = dict(
        re.findall(r'<div class="label">([^<]+)</div><div class="value">[^<]+</div>'
                   r'<div class="delta (\w*)">', page)
    )
    # 5 → 6 role definitions is worse; over-privilege and exposure fall, which is better
    assert tiles == {
        "Role definitions": "worse",
        "Over-privilege (risk-weighted)": "better",
        "Standing control-plane exposure (action-hours)": "better",
        "Replay coverage": "",
    }
    assert '<span class="delta worse">+20.0 % (worse)</span>' in page
    assert '<span class="delta better">−98.9 % (better)</span>' in page
    assert "Worse: lower is better." in text_of(page)


def test_scope_reasons_are_said_in_words(rec: Recommendation) -> None:
    reason = (
        "the smallest AU cover (North region, South region) holds 96% of the tenant's objects "
        "of these types, more than max_au_share=0.75: tenant scope; AU-scopable, but no 5 "
        "administrative units (max_scoped_assignments) hold all 40 targets"
    )
    first = rec.assignments[0]
    wide = first.model_copy(
        update={
            "scope": ScopeChoice(
                kind="tenant",
                directory_scope_id="/",
                display_name="tenant",
                reason=reason,
                denied_by_narrower={"administrative units": 12},
            )
        }
    )
    changed = rec.model_copy(update={"assignments": (wide, *rec.assignments[1:])})
    for text in (text_of(to_html(changed)), to_markdown(changed)):
        assert "max_au_share=" not in text and "(max_scoped_assignments)" not in text
        words = "75% of the tenant an administrative-unit scope may cover (max_au_share): tenant"
        assert f"more than the {words} scope" in text
        assert "no 5 administrative units (the limit set by option max_scoped_assignments)" in text
        assert "narrower (administrative units) would have denied 12 past operations" in text
    # a scope that is one of several says how many past operations only it allowed
    hr = next(a for a in rec.assignments if a.scope.display_name.startswith("HR Portal"))
    needed = hr.model_copy(
        update={"scope": hr.scope.model_copy(update={"denied_by_narrower": {"without HR": 4}})}
    )
    scoped = rec.model_copy(
        update={"assignments": tuple(needed if a is hr else a for a in rec.assignments)}
    )
    assert "app HR Portal (app registration) (needed by 4 past operations)" in to_markdown(scoped)
    assert plain_reason("no option here") == "no option here"
    assert "limit of 5 scoped assignments" in plain_reason("more than max_scoped_assignments=5")


def test_evidence_rule_ids_are_summarised_and_collapsed(rec: Recommendation) -> None:
    page = to_html(rec)
    role = rec.role("user-profile-exec")
    # actions are grouped by resource: one row for users/, its actions side by side
    card = page.split(f'data-role-key="{role.key}"', 1)[1].split("</article>", 1)[0]
    assert card.count('<td class="resource"') == 1
    assert "2 seen in the logs, 1 needed by a task · 469 events, last 2026-04-28" in text_of(card)
    assert "- Evidence: 3 actions: 2 seen in the logs, 1 needed by a task" in to_markdown(rec)
    # the rule ids of an action are one click away, not a wall of text
    summary = re.search(r'<details class="inline"><summary>exact · 1 rule</summary>([^<]+)<', card)
    assert summary is not None and summary[1] == role.evidence[0].rule_ids[0]


def test_attestation_is_grouped_by_principal_and_reason(rec: Recommendation) -> None:
    from permission_catalog import load_catalog

    actions = sorted(load_catalog().actions)[:30]
    alice, bob = s.ALICE[0], s.BOB[0]
    items = [
        AttestationItem(
            principal_id=alice,
            action=a,
            reason="unobservable",
            held_via="Global Administrator at /",
            detail=f"task t{i // 3} leaves no audit record",
        )
        for i, a in enumerate(actions)
    ]
    # the same right held through a second role is one right, two holdings
    items += [i.model_copy(update={"held_via": "Security Administrator at /"}) for i in items[:5]]
    items.append(AttestationItem(principal_id=bob, action=actions[0], reason="held_never_seen"))
    many = rec.model_copy(update={"attestation": tuple(items)})
    page = to_html(many)
    section = page.split('<section id="attestation">', 1)[1].split("</section>", 1)[0]
    assert "<h2>Attestation (31)</h2>" in section
    rows = re.findall(r"<tr><td>([^<]+)</td><td class=\"num\">(\d+)</td><td>([^/]+?)</td>", section)
    assert rows == [
        (
            s.ALICE[1],
            "30",
            "Global Administrator (tenant-wide): 30<br>Security Administrator (tenant-wide): 5",
        ),
        (s.BOB[1], "1", "not held today: 1"),
    ]
    assert section.count("<details>") == 2 and "<details open" not in section
    for a in actions:  # every right is still there, inside the closed details
        assert a.replace("/", "/<wbr>") in section
    assert "task t3 leaves no audit record" in section
    assert "Never audited: confirm it is needed: 30 rights, 1 principal" in text_of(section)
    md = to_markdown(many)
    assert "| Alice" not in md  # names are shown as given, never guessed
    assert f"| {s.ALICE[1]} | Never audited: confirm it is needed | 30 |" in md
    # the held-and-unused right is not one "no log can show": the summary says which are
    assert "31 rights wait for a person to confirm or remove them (30 of them no log" in md


def test_activation_settings_of_an_active_only_role_are_marked(rec: Recommendation) -> None:
    role = rec.role("app-credentials")
    settings = PimSettings.model_validate(
        {**role.pim.settings.model_dump(), "eligible": False, "active_assignment_expiry_days": 90}
    )
    active = role.model_copy(update={"pim": PimDecision(settings=settings, rationale={})})
    changed = rec.model_copy(
        update={"roles": tuple(active if r.key == role.key else r for r in rec.roles)}
    )
    page, md = to_html(changed), to_markdown(changed)
    card = page.split(f'data-role-key="{role.key}"', 1)[1].split("</article>", 1)[0]
    assert "PIM</b> active, time-bound (expires after 90 days)" in card
    assert "Held actively only: nobody activates this role" in card
    assert len(re.findall(r'<li class="na">', card)) == 7  # the activation-only settings
    assert "| Maximum activation | 2 h (not used: nobody activates) |" in md
    # eligibility expiry does not apply either; the notifications and active expiry do
    section = md.split(f"### {role.display_name}\n", 1)[1].split("\n### ", 1)[0]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in section.splitlines()
            if line.startswith("| ") and " | " in line}
    assert "does not apply" in rows["Eligibility ends after"]
    assert "(not used" not in rows["Notify on activation"]
    assert "(not used" not in rows["Active assignment ends after"]
    assert "does not apply" in rows["MFA on activation"]  # said even for an older saved file


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


def test_pseudonymised_demo_report_leaks_no_name_or_id() -> None:
    demo = demo_recommendation()
    secret = {a.principal_id for a in demo.assignments} | {e.principal_id for e in demo.exclusions}
    secret |= {t.principal_id for t in demo.attestation if t.principal_id}
    names = {a.principal_name for a in demo.assignments}
    names |= {e.principal_name for e in demo.exclusions}
    secret |= {n for n in names if n}
    assert len(secret) > 40  # the demo really has people and apps to hide
    for text in (
        to_html(demo, pseudonymize_salt="demo"),
        to_markdown(demo, pseudonymize_salt="demo"),
    ):
        low = text.lower()
        assert [x for x in sorted(secret) if x.lower() in low] == []
        assert not re.search(r"[\w.-]+@[\w-]+\.[\w.]+", text)  # no e-mail-like name at all


def test_demo_report_counts_match_the_metrics() -> None:
    demo = demo_recommendation()
    assert demo.metrics is not None
    page = to_html(demo)
    heading = re.search(r"<h2>Roles: (\d+) proposals?, (\d+) role definitions?</h2>", page)
    assert heading is not None
    # the report's definition count is the measure's, and the proposals are the role cards
    assert int(heading[2]) == demo.metrics.proposed.n_roles
    assert int(heading[1]) == len(demo.roles) == page.count('<article class="role-card')
    rights = len({(t.principal_id, t.action) for t in demo.attestation})
    assert f"<h2>Attestation ({fmt(rights)})</h2>" in page


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


# ---- the validation's denied operations ------------------------------------------------------
NEWCOMER = ("0b7f6c1e-9999-4a7e-9c1a-2f3d4e5f6a99", "newcomer@contoso.example")
TARGET_USER = "5a5a5a5a-0000-4000-8000-000000000001"


def _validation(rec: Recommendation) -> ValidationReport:
    """A replay of a later window: two actions of Alice and one of a principal the
    recommendation does not know were denied."""
    denied = (
        DeniedOperation(principal_id=s.ALICE[0], principal_name=s.ALICE[1],
                        action="microsoft.directory/users/delete", count=3, n_targets=2,
                        reason="action_not_granted", example_targets=(TARGET_USER, "u-2")),
        DeniedOperation(principal_id=NEWCOMER[0], principal_name=NEWCOMER[1],
                        action="microsoft.directory/users/password/update", count=2,
                        n_targets=1, reason="no_assignment", example_targets=("u-3",)),
        DeniedOperation(principal_id=s.ALICE[0], principal_name=s.ALICE[1],
                        action="microsoft.directory/users/password/update", count=1,
                        n_targets=1, reason="outside_scope", example_targets=("u-4",)),
    )
    return ValidationReport(total_operations=1006, excluded_operations=6,
                            allowed_operations=994, coverage=0.994, denied=denied,
                            new_principals=(NEWCOMER[0],), recommendation=rec)


def test_reports_list_the_denied_operations_of_a_validation(rec: Recommendation) -> None:
    rep = _validation(rec)
    md = to_markdown(rec, validation=rep)
    assert sections(md)[3:5] == ["What Entra cannot express", "Denied on replay"]
    section = md.split("## Denied on replay", 1)[1].split("\n## ", 1)[0]
    assert "allowed 994 of 1,000 operations (99.40 %); 6 would be denied" in section
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    # grouped by principal (most events first), then action; the name said once per group
    assert [r.split(" | ")[:3] for r in rows] == [
        [f"| {s.ALICE[1]}", "`microsoft.directory/users/delete`", "3"],
        ["| ", "`microsoft.directory/users/password/update`", "1"],
        [f"| {NEWCOMER[1]}", "`microsoft.directory/users/password/update`", "2"],
    ]
    assert f"{TARGET_USER}, u-2" in rows[0] and "no proposed role grants this action" in rows[0]
    assert "outside the assigned scope" in rows[1] and "no proposed assignment" in rows[2]
    assert f"not in the recommendation (their operations count as denied): {NEWCOMER[1]}" in md
    page = to_html(rec, validation=rep)
    assert '<a href="#denied">Denied</a>' in page and "<h2>Denied on replay (6)</h2>" in page
    assert "users/<wbr>delete" in page.split('id="denied"', 1)[1]
    # without a validation the reports are unchanged
    assert to_markdown(rec) == to_markdown(rec, validation=None) and 'id="denied"' not in (
        to_html(rec))


def test_denied_operations_are_pseudonymised_and_checked(rec: Recommendation) -> None:
    rep = _validation(rec)
    for text in (to_markdown(rec, validation=rep, pseudonymize_salt="w"),
                 to_html(rec, validation=rep, pseudonymize_salt="w")):
        low = text.lower()
        for secret in (s.ALICE[0], s.ALICE[1], NEWCOMER[0], NEWCOMER[1], TARGET_USER):
            assert secret.lower() not in low, secret
        assert "Denied on replay" in text
    # Alice has one pseudonym, whether named in a role or in the denied list
    md = to_markdown(rec, validation=rep, pseudonymize_salt="w")
    alice = next(line for line in md.split("## Denied on replay", 1)[1].splitlines()
                 if "users/delete" in line).split(" | ")[0].lstrip("| ")
    assert re.fullmatch(r"User [0-9A-F]{8}", alice) and md.count(alice) > 1
    # a validation of another recommendation is refused
    other = rec.model_copy(update={"assignments": rec.assignments[1:]})
    with pytest.raises(RecommendationError, match="another recommendation"):
        to_markdown(other, validation=rep)
    # a recommendation saved before validating gets the replay's coverage in its metrics
    assert rec.metrics is not None
    bare = rec.model_copy(update={"metrics": rec.metrics.model_copy(update={
        "proposed": rec.metrics.proposed.model_copy(update={"coverage": None})})})
    assert "| Replay coverage | – | 99.71 % |" in to_markdown(
        bare, validation=rep.model_copy(update={"recommendation": rec}))


def test_export_passes_the_validation_to_both_reports(
    rec: Recommendation, tmp_path: Path
) -> None:
    from entra_lp.export.bundle import export

    export(rec, tmp_path, ("markdown", "html"), validation=_validation(rec))
    assert "## Denied on replay" in (tmp_path / "report.md").read_text(encoding="utf-8")
    assert 'id="denied"' in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_both_reports_render_from_the_shared_report_model() -> None:
    """The report model (context, rows, labels, grouping) lives in ``_report``; the Markdown
    and HTML modules only render it, and neither imports the other."""
    import ast

    from entra_lp.export import _report, html, markdown

    for module, other in ((html, "markdown"), (markdown, "html")):
        tree = ast.parse(Path(str(module.__file__)).read_text(encoding="utf-8"))
        sources = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "_report" in sources and other not in sources, module.__name__
    assert markdown.report_context is _report.report_context is html.report_context


def test_rights_are_counted_once_however_many_roles_grant_them(rec: Recommendation) -> None:
    a = "microsoft.directory/users/basic/update"
    items = (
        AttestationItem(principal_id=s.BOB[0], action=a, reason="unobservable",
                        held_via="Global Administrator at /"),
        AttestationItem(principal_id=s.BOB[0], action=a, reason="unobservable",
                        held_via="User Administrator at /"),
        AttestationItem(principal_id=s.BOB[0], action=a, reason="unobservable",
                        held_via="Helpdesk Administrator at /"),
        # every action of two different roles held and never used: two rights
        AttestationItem(principal_id=s.ALICE[0], action="*", reason="held_never_seen",
                        held_via="Global Administrator at /"),
        AttestationItem(principal_id=s.ALICE[0], action="*", reason="held_never_seen",
                        held_via="Billing Administrator at /"),
    )
    md = to_markdown(rec.model_copy(update={"attestation": items}))
    assert "3 rights for 2 principals (1 never audited, 2 held but unused)" in md
    assert "Held today through (1 of them through two roles or more):" in md
    unused = "Held today but never used in the window: confirm or remove"
    assert f"| {s.ALICE[1]} | {unused} | 2 |" in md
    assert f"| {s.BOB[1]} | Never audited: confirm it is needed | 1 |" in md
