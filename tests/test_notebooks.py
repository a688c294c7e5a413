"""The notebooks run end to end in a real Jupyter kernel (nbclient, kernel ``python3``) and
produce their key outputs; the copies in the repository carry no outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CELL_TIMEOUT = 180  # seconds per cell: generous for a shared 2-core machine


def _execute(name: str, cwd: Path) -> Any:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return nb


def _texts(nb: Any) -> list[str]:
    """Every text output (stdout, plain text and HTML of rich results), one per cell."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        parts = []
        for o in cell.outputs:
            if o.output_type == "stream":
                parts.append(o.text)
            elif o.output_type in ("execute_result", "display_data"):
                parts.append(o.data.get("text/plain", "") + o.data.get("text/html", ""))
        out.append("\n".join(parts))
    return out


def _images(nb: Any) -> int:
    return sum(
        1
        for cell in nb.cells if cell.cell_type == "code"
        for o in cell.outputs if o.output_type == "display_data" and "image/png" in o.data
    )


def _assert_ran_cleanly(nb: Any) -> None:
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert cell.execution_count is not None, cell.source[:80]
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if errors:
            err = errors[0]
            pytest.fail(f"{cell.source[:80]}: {err.get('ename')}: {err.get('evalue')}")


def test_workshop_notebook(tmp_path: Path) -> None:
    nb = _execute("01_workshop.ipynb", tmp_path)
    _assert_ran_cleanly(nb)
    text = "\n".join(_texts(nb))
    assert "users.reset-password-nonadmin" in text  # task → minimal actions table
    assert "Region - EMEA" in text and "contoso-crm-002" in text  # roles at AU and app scope
    assert "max_activation_hours" in text  # PIM settings with their reasons
    assert "risk score" in text
    assert 'resource "azuread_custom_directory_role"' in text  # the Terraform export


def test_analysis_notebook(tmp_path: Path) -> None:
    nb = _execute("02_analysis.ipynb", tmp_path)
    _assert_ran_cleanly(nb)
    text = "\n".join(_texts(nb))
    # heatmap, Pareto front, scope/escalation graph, before/after bars
    assert _images(nb) >= 4
    assert "exact reproduction:" in text and "weighted_over_assignment" in text
    assert "coverage " in text and "% of " in text
    assert "roles with escalation paths" in text
    assert "report.html" in text


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_are_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_there_are_two_notebooks() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == [
        "01_workshop.ipynb", "02_analysis.ipynb"]
