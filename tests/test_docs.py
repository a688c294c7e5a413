"""Every code sample in README.md and docs/*.md runs.

Per page, the ```python blocks run in order in one namespace, and the ```bash blocks run in
bash with the installed ``entra-lp`` first on PATH, all in a fresh folder (with ``docs/``
linked in, for ``docs/examples``). Two kinds of block are deliberately not run, and are
tagged in their fence so the reason is visible on the page:

* ``tenant``: talks to a live Entra tenant and needs credentials (the same calls are tested
  against the loopback Graph server in tests/entra_lp/tenant and tests/entra_lp/cli);
* ``setup``: ``make demo`` / ``make test`` themselves (they are what runs this suite).

A tag may not hide anything else: tenant blocks must only connect to a tenant or run
``entra-lp tenant``; setup blocks must only be the two make targets.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = ["README.md"] + [
    f"docs/{n}.md"
    for n in ("catalog", "ingest", "usage", "mining", "recommend", "validate", "export",
              "tenant", "simulate", "cli")
]
FENCE = re.compile(r"^```([A-Za-z]+)[ \t]*([A-Za-z-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
NOT_RUN = {
    "tenant": "needs a live tenant and credentials",
    "setup": "make demo / make test are what run this suite",
}


@dataclass(frozen=True)
class Block:
    lang: str
    tag: str
    code: str


def blocks(page: str) -> list[Block]:
    text = (REPO / page).read_text(encoding="utf-8")
    return [Block(m.group(1), m.group(2), m.group(3)) for m in FENCE.finditer(text)]


def _check_tag(page: str, b: Block) -> None:
    assert b.tag in ("", *NOT_RUN), f"{page}: unknown fence tag {b.tag!r}"
    lines = [ln.strip() for ln in b.code.splitlines() if ln.strip()]
    if b.tag == "tenant":
        if b.lang == "python":
            assert "Tenant.connect(" in b.code, f"{page}: a 'tenant' block must use a tenant"
        else:
            assert all(ln.startswith("entra-lp tenant ") for ln in lines), page
    if b.tag == "setup":
        assert [ln.split("#")[0].strip() for ln in lines] == ["make demo", "make test"], page


def _run_python(page: str, code: str, namespace: dict[str, object], index: int) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"{page}[python block {index}]", "exec"), namespace)


def _run_bash(page: str, code: str, cwd: Path, index: int) -> None:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("ENTRA_LP_GRAPH_URL", None)
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, (
        f"{page} bash block {index} exited {proc.returncode}\n{code}\n"
        f"--- stdout\n{proc.stdout[-2000:]}\n--- stderr\n{proc.stderr[-2000:]}"
    )


@pytest.mark.parametrize("page", PAGES)
def test_page_samples_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "docs").symlink_to(REPO / "docs")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs:{page}"}
    ran = 0
    for i, b in enumerate(blocks(page)):
        _check_tag(page, b)
        if b.tag in NOT_RUN:
            continue
        if b.lang == "python":
            _run_python(page, b.code, namespace, i)
            ran += 1
        elif b.lang == "bash":
            _run_bash(page, b.code, tmp_path, i)
            ran += 1
    assert ran > 0, f"{page} has no runnable sample"


def test_every_page_has_a_python_sample_and_the_readme_a_library_example() -> None:
    for page in PAGES:
        if page == "docs/cli.md":  # the command line's own page: shell samples only
            continue
        assert any(b.lang == "python" and not b.tag for b in blocks(page)), page
    readme = blocks("README.md")
    library = next(b for b in readme if b.lang == "python")
    assert len(library.code.strip().splitlines()) <= 12  # "a 10-line library example"


def test_readme_first_screen_keeps_the_two_setup_commands() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    first_screen = "\n".join(text.splitlines()[:20])
    first = blocks("README.md")[0]
    assert first.tag == "setup" and first.code in first_screen
    assert "make demo" in first.code and "make test" in first.code
    assert "do all the set-up" in first_screen


def test_readme_names_the_graph_permission_of_every_read() -> None:
    from entra_lp.tenant import PERMISSIONS

    text = (REPO / "README.md").read_text(encoding="utf-8")
    missing = sorted({p for p in PERMISSIONS.values() if p not in text})
    assert missing == [], f"README does not name: {missing}"
    assert "auditLogs/directoryAudits" in text and "usage_query" in text
    assert "Event Hub" in text and "Log Analytics" in text


def test_links_between_pages_resolve() -> None:
    for page in PAGES:
        text = (REPO / page).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#:]+\.(?:md|yaml|ipynb))\)", text):
            assert ((REPO / page).parent / target).is_file(), f"{page}: broken link {target}"
