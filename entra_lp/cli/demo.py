"""``entra-lp demo``: the whole analysis of the bundled sample tenant, end to end.

Reads the sample's audit log (Graph form), splits it at the sample's split time into a
training window and a later window, recommends on the first, validates on the second, and
writes the report and every export into one folder.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from . import _views as views
from ._common import EXIT_FINDINGS, EXIT_INPUT, JsonOpt, Output, QuietOpt, fail, guarded
from ._data import read_logs, usage_of, write_text

if TYPE_CHECKING:  # pragma: no cover
    from entra_lp.recommendation import Recommendation
    from entra_lp.validate import ValidationReport

TARGET = 0.995
"""Replay coverage the recommendations aim for (docs/dev/recommender.md)."""

EPILOG = (
    "Examples:\n\n"
    "  entra-lp demo\n\n"
    "  entra-lp demo --out /tmp/contoso --json\n\n"
    "Then open entra-lp-out/report.html in a browser."
)


@guarded()
def demo(
    *,
    output: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the report and the exports.")
    ] = Path("entra-lp-out"),
    min_coverage: Annotated[
        float | None,
        typer.Option(help="Exit 1 when the later window's coverage is below this "
                     f"(default: only report it against the {TARGET:.1%} target)."),
    ] = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Analyse the bundled sample tenant: mine, recommend, validate, report and export."""
    from entra_lp.export.bundle import export
    from entra_lp.recommend import recommend
    from entra_lp.simulate import load_sample_tenant
    from entra_lp.validate import validate

    started = time.perf_counter()
    out = Output(json=json, quiet=quiet)
    sample = load_sample_tenant()
    split = str(sample.manifest["split_time"])
    with out.steps() as steps:
        train = usage_of(read_logs([sample.graph], steps, until=split,
                                   label="Reading the training window"), steps)
        later = usage_of(read_logs([sample.graph], steps, since=split,
                                   label="Reading the later window"), steps,
                         label="Mapping the later window")
        with steps.step("Recommending roles"):
            rec = recommend(train, directory=sample.directory, progress=steps.enabled)
        with steps.step("Validating on the later window"):
            rep = validate(rec, later, directory=sample.directory)
        with steps.step("Writing report and exports"):
            result = export(rep.recommendation, output, overwrite=True, validation=rep)
            # After the export: it refuses a folder holding files it did not write.
            write_text(output / "recommendation.json", rep.recommendation.to_json())
    data = _summary(rep.recommendation, rep, output, split,
                    TARGET if min_coverage is None else min_coverage)
    data["files"] = len(result.files) + 1
    if json:
        out.emit(data)
    else:
        _print(out, data, time.perf_counter() - started)
    if min_coverage is not None and rep.coverage < min_coverage:
        raise typer.Exit(EXIT_FINDINGS)


SAMPLE_EPILOG = (
    "Examples:\n\n"
    "  entra-lp sample contoso\n\n"
    "  entra-lp analyze contoso/graph/directoryAudits.jsonl.gz -d contoso/directory.json"
)


@guarded()
def sample(
    folder: Annotated[Path, typer.Argument(help="Folder to copy the sample tenant into.")] = Path(
        "contoso"
    ),
    *,
    json: JsonOpt = False,
) -> None:
    """Copy the bundled sample tenant (audit logs, directory snapshot) to try the commands on."""
    import shutil

    from entra_lp.simulate import load_sample_tenant

    src = load_sample_tenant()
    if folder.exists() and any(folder.iterdir()):
        fail(EXIT_INPUT, f"{folder}: folder is not empty; choose a new folder")
    shutil.copytree(src.folder, folder, dirs_exist_ok=True)
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    info = {"folder": str(folder), "files": files, "split_time": src.manifest["split_time"],
            "records": src.manifest["records"]}
    if json:
        Output(json=True).emit(info)
        return
    out = Output()
    out.out.print(f"Sample tenant copied to [bold]{folder}[/bold]: "
                  f"{info['records']['graph']:,} audit records (Graph form), directory.json, "
                  f"excerpts in the Log Analytics and Event Hub forms. Training/later split: "
                  f"{info['split_time']}.")
    out.out.print(f"Try: entra-lp analyze {folder}/graph/directoryAudits.jsonl.gz "
                  f"-d {folder}/directory.json", markup=False)


def _summary(rec: Recommendation, rep: ValidationReport, output: Path, split: str,
             min_coverage: float) -> dict[str, Any]:
    return {
        "tenant": "contoso (bundled sample, simulated)",
        "split_time": split,
        "out": str(output),
        "report": str(output / "report.html"),
        "report_markdown": str(output / "report.md"),
        "recommendation": views.recommendation_json(rec),
        "validation": views.validation_json(rep, min_coverage),
    }


def _print(out: Output, data: dict[str, Any], seconds: float) -> None:
    summary = data["recommendation"]
    roles = summary["roles"]
    v = data["validation"]
    out.out.print(
        f"[bold]entra-lp demo[/bold]: sample tenant contoso, trained before {data['split_time']},"
        " validated on the weeks after it"
    )
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("roles", f"{roles['custom']} custom, {roles['builtin']} built-in fallback, "
                 f"{roles['pim_group']} PIM-for-Groups; {summary['assignments']} assignments; "
                 f"{summary['exclusions']} principals left unchanged; "
                 f"{summary['attestation']} rights to attest")
    mark = "[green]pass[/green]" if v["passed"] else "[red]below threshold[/red]"
    grid.add_row("coverage", f"{v['coverage']:.2%} of the later window's operations, "
                 f"{v['denied_operations']} denied ({mark}, threshold {v['min_coverage']:.1%})")
    ba = summary["before_after"]
    if ba is not None:
        op, hours = ba["over_privilege"], ba["standing_control_plane_hours"]
        grid.add_row("over-privilege", f"{op[0]:,.0f} → {op[1]:,.0f} risk-weighted unused "
                     f"rights ({views.reduction(op[0], op[1])}; before = {ba['before']})")
        grid.add_row("exposure", f"{hours[0]:,.0f} → {hours[1]:,.0f} standing control-plane "
                     f"hours ({views.reduction(hours[0], hours[1])})")
    grid.add_row("report", f"[bold]{data['report']}[/bold] (also report.md); "
                 f"{data['files']} files in {data['out']} ({seconds:.0f} s)")
    out.out.print(grid)
