"""export(): every format into one folder, byte-identical twice, nothing written on refusal,
earlier exports replaced only when asked and foreign files never deleted."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from entra_lp.errors import RecommendationError, UnknownNameError
from entra_lp.export.bundle import FORMATS, MANIFEST, export
from entra_lp.export.desired import DesiredState
from entra_lp.export.from_recommendation import graph_requests, prepare_export
from permission_catalog import load_catalog

from . import samples as s

CAT = load_catalog()


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_every_format_is_written_deterministically(tmp_path: Path) -> None:
    rec = s.recommendation()
    first = export(rec, tmp_path / "a", catalog=CAT)
    export(rec, tmp_path / "b", catalog=CAT)
    a, b = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert a == b  # byte-identical
    assert set(a) == {*first.files, MANIFEST}
    assert {
        "README.md",
        "desired_state.json",
        "report.md",
        "report.html",
        "graph/index.json",
        "terraform/main.tf",
        "terraform/variables.tf",
        "terraform/versions.tf",
        "powershell/Apply-Recommendation.ps1",
    } <= set(a)
    manifest = json.loads(a[MANIFEST])
    assert manifest["formats"] == list(FORMATS)
    assert all(hashlib.sha256(a[k]).hexdigest() == h for k, h in manifest["sha256"].items())
    assert all(b"\r\n" not in content for content in a.values())
    assert not any(b"s3cr3t" in content for content in a.values())


def test_graph_folder_is_the_request_sequence(tmp_path: Path) -> None:
    rec = s.recommendation()
    export(rec, tmp_path, formats=("graph",), catalog=CAT)
    files = sorted(p for p in (tmp_path / "graph").glob("[0-9]*.json"))
    expected = graph_requests(prepare_export(rec, CAT))
    assert len(files) == len(expected)
    for path, req in zip(files, expected, strict=True):
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert path.name.startswith(f"{req.step:03d}-")
        assert (doc["method"], doc["url"]) == (req.method, req.url)
        assert doc["body"] == req.body
    index = json.loads((tmp_path / "graph/index.json").read_text(encoding="utf-8"))
    assert [r["file"] for r in index["requests"]] == [p.name for p in files]
    desired = DesiredState.load(tmp_path / "desired_state.json")
    assert desired == prepare_export(rec, CAT).desired
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "terraform").exists()


def test_refusal_writes_nothing(tmp_path: Path) -> None:
    rec = s.recommendation()
    roles = tuple(
        r.model_copy(update={"actions": (f"{s.D}/users/password/update",)})
        if r.key == "app-config"
        else r
        for r in rec.roles
    )
    with pytest.raises(RecommendationError, match="LP - App registration configuration"):
        export(rec.model_copy(update={"roles": roles}), tmp_path / "out", catalog=CAT)
    assert not (tmp_path / "out").exists()
    # reports alone do not need a valid design: a workshop can still read it
    result = export(
        rec.model_copy(update={"roles": roles}),
        tmp_path / "report",
        formats=("html", "markdown"),
        catalog=CAT,
    )
    assert set(result.files) == {"README.md", "report.html", "report.md"}


def test_overwrite_replaces_only_our_files(tmp_path: Path) -> None:
    rec = s.recommendation()
    export(rec, tmp_path, catalog=CAT)
    with pytest.raises(RecommendationError, match="overwrite=True"):
        export(rec, tmp_path, catalog=CAT)
    (tmp_path / "notes-by-hand.txt").write_text("keep me", encoding="utf-8")
    export(rec, tmp_path, formats=("markdown",), catalog=CAT, overwrite=True)
    left = set(tree(tmp_path))
    assert left == {"README.md", "report.md", MANIFEST, "notes-by-hand.txt"}  # stale ones gone
    foreign = tmp_path.parent / "foreign"
    foreign.mkdir()
    (foreign / "x.txt").write_text("x", encoding="utf-8")
    with pytest.raises(RecommendationError, match="did not write"):
        export(rec, foreign, catalog=CAT, overwrite=True)
    assert (foreign / "x.txt").read_text(encoding="utf-8") == "x"


def test_pseudonymised_bundle_reports_but_real_ids_in_code(tmp_path: Path) -> None:
    rec = s.recommendation()
    export(rec, tmp_path, catalog=CAT, pseudonymize_salt="ws")
    files = tree(tmp_path)
    for name in ("report.md", "report.html"):
        assert s.ALICE[0].encode() not in files[name] and s.ALICE[1].encode() not in files[name]
    assert s.ALICE[0].encode() in files["powershell/Apply-Recommendation.ps1"]


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'terraform'"):
        export(s.recommendation(), tmp_path, formats=("terrafrom",), catalog=CAT)
