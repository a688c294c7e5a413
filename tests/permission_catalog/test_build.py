"""The build script: deterministic, complete manifest, committed data up to date."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest

from permission_catalog import DATA_DIR
from permission_catalog.build import build, main
from permission_catalog.catalog import Catalog
from permission_catalog.errors import CatalogError


@pytest.fixture(scope="module")
def built(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    out = tmp_path_factory.mktemp("data")
    return out, build(shared / "sources/entra", out, log=lambda _: None)


def test_rebuild_is_byte_identical(
    shared: Path, built: tuple[Path, dict[str, bytes]], tmp_path: Path
) -> None:
    again = build(shared / "sources/entra", tmp_path, log=lambda _: None)
    assert again == built[1]


def test_committed_data_is_up_to_date(built: tuple[Path, dict[str, bytes]]) -> None:
    stale = [name for name, blob in built[1].items() if (DATA_DIR / name).read_bytes() != blob]
    assert not stale, f"run `python -m permission_catalog.build`: stale {stale}"


def test_manifest_records_every_output_and_input(
    shared: Path, built: tuple[Path, dict[str, bytes]]
) -> None:
    out, files = built
    manifest = orjson.loads(files["manifest.json"])
    for name, blob in files.items():
        if name != "manifest.json":
            assert manifest["outputs"][name]["sha256"] == hashlib.sha256(blob).hexdigest()
    for name, info in manifest["inputs"].items():
        if not name.startswith("curation/"):
            raw = (shared / "sources/entra" / name).read_bytes()
            assert info["sha256"] == hashlib.sha256(raw).hexdigest()
            assert info["upstream"] and all(
                u["commit"] for u in info["upstream"] if u["path"].endswith(".json")
            )
    graph = manifest["inputs"]["graph_roleDefinitions_beta_2026-05-04.json"]["upstream"][0]
    assert (
        graph["commit"] == "3d4a60d34ffd6853bf6d90202e873d8e9bd4e330"
        and graph["repo"] == "jlaundry/aadinfo"
    )
    assert Catalog.from_data_dir(out).version == "2026-05-04"


def test_bad_sources_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CatalogError, match=r"SOURCES\.md"):
        build(tmp_path, tmp_path / "out")
    assert main(["--sources", str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    assert "SOURCES.md" in capsys.readouterr().err
