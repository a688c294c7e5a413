"""CLI plumbing: progress only on a terminal, library stage lines in the step text, one-line
errors, the environment-token credential."""

from __future__ import annotations

import base64
import io
import logging

import orjson
import pytest
from pydantic import BaseModel
from rich.console import Console

from entra_lp.cli._common import Steps, one_line
from entra_lp.cli.tenant_cmd import EnvTokenCredential


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=terminal, width=120), buf


def test_steps_draw_on_a_terminal_and_show_library_stage_lines() -> None:
    con, buf = _console(True)
    seen: list[str] = []
    with Steps(enabled=True, console=con) as steps, steps.step("Recommending", total=2) as s:
        logging.getLogger("entra_lp.recommend").info("recommend: scope done in %.2f s", 0.5)
        seen.append(str(steps._progress.tasks[0].description))
        s.advance(2)
    text = buf.getvalue()
    assert "Recommending" in text and "2/2" in text
    assert seen == ["Recommending: recommend: scope done in 0.50 s"]
    # the handler is gone afterwards: nothing leaks into later steps
    assert not any(type(h).__name__ == "_StepHandler"
                   for h in logging.getLogger("entra_lp").handlers)


def test_steps_disabled_write_nothing() -> None:
    con, buf = _console(False)
    with Steps(enabled=False, console=con) as steps, steps.step("Reading", total=3) as s:
        s.advance(3)
        s.say("file.json")
    assert buf.getvalue() == ""


def test_one_line_flattens_pydantic_errors() -> None:
    class M(BaseModel):
        a: int
        b: int

    with pytest.raises(ValueError) as info:
        M.model_validate({"a": "x"})
    text = one_line(info.value)
    assert "\n" not in text and "errors.pydantic.dev" not in text
    assert "a" in text and "b" in text and "Field required" in text


def _jwt(payload: dict[str, object]) -> str:
    body = base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()
    return f"eyJhbGciOiJub25lIn0.{body}.sig"


def test_env_token_credential_reads_expiry_and_hides_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = _jwt({"exp": 2_000_000_000, "aud": "https://graph.microsoft.com"})
    monkeypatch.setenv("ENTRA_LP_ACCESS_TOKEN", f"  {token}\n")
    cred = EnvTokenCredential()
    got = cred.get_token("https://graph.microsoft.com/.default")
    assert got.token == token and got.expires_on == 2_000_000_000
    assert token not in repr(cred)
    monkeypatch.setenv("ENTRA_LP_ACCESS_TOKEN", "opaque")
    assert EnvTokenCredential().get_token().expires_on > 0
