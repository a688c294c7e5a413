"""read_upa: the HP Labs user-permission format."""

from __future__ import annotations

from pathlib import Path

import pytest

from entra_lp.errors import MiningError
from entra_lp.mining import read_upa


def test_reads_one_based_pairs(tmp_path: Path) -> None:
    path = tmp_path / "upa.txt"
    path.write_text(f"{1:10d}{2:10d}\n{3:10d}{1:10d}\n\n{1:10d}{1:10d}\n", encoding="ascii")
    X = read_upa(path)
    assert X.shape == (3, 2)
    pairs = sorted((int(u), int(p)) for u, p in zip(*X.nonzero(), strict=True))
    assert pairs == [(0, 0), (0, 1), (2, 0)]


@pytest.mark.parametrize("line", ["1 2 3", "0 4", "a b", "-1 2"])
def test_bad_lines_name_file_and_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(f"1 1\n{line}\n", encoding="ascii")
    with pytest.raises(MiningError, match=r"bad\.txt:2: expected two positive integers"):
        read_upa(path)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(MiningError, match="cannot read"):
        read_upa(tmp_path / "absent.txt")
    (tmp_path / "empty.txt").write_text("\n", encoding="ascii")
    with pytest.raises(MiningError, match="no assignments"):
        read_upa(tmp_path / "empty.txt")
