"""The nightly calibration report: rendered into a dated folder, summarized in markdown.

:func:`nightly_report` renders :func:`weather_edge.reporting.render_calibration_report` into
``<reports>/calibration/<UTC date>/``; :func:`report_markdown` is the summary the Dagster
asset attaches to its materialization and ``weather-edge report`` prints;
:func:`run_report` is that command's body.
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import Any

from weather_edge.reporting import PANELS, CalibrationReport, render_calibration_report
from weather_edge.settings import Settings
from weather_edge.storage import Warehouse, open_warehouse

MAIN_PANEL = "reliability"
DEFAULT_LAST_N_DAYS = 30


def calibration_dir(reports_dir: str | Path) -> Path:
    return Path(reports_dir) / "calibration"


def nightly_report(
    warehouse: Warehouse,
    reports_dir: str | Path,
    last_n_days: int = DEFAULT_LAST_N_DAYS,
    now: dt.datetime | None = None,
) -> CalibrationReport:
    """Render the report into ``<reports_dir>/calibration/<UTC date of now>/``."""
    now = now or dt.datetime.now(dt.UTC)
    out = calibration_dir(reports_dir) / now.astimezone(dt.UTC).date().isoformat()
    return render_calibration_report(warehouse, out, last_n_days=last_n_days, now=now)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def report_markdown(report: CalibrationReport) -> str:
    """The report's headline figures as a markdown table (last N days and cumulative)."""
    summary = report.summary
    recent, total = summary["window"], summary["cumulative"]
    keys = list(dict.fromkeys([*recent, *total]))
    lines = [
        f"**Calibration report** generated {summary['generated_at']}",
        "",
        f"| figure | last {summary['last_n_days']} days | cumulative |",
        "|---|---|---|",
        *(f"| {k} | {_cell(recent.get(k))} | {_cell(total.get(k))} |" for k in keys),
        "",
        f"HTML: `{report.html}`",
        "",
        "Panels: "
        + ", ".join(f"{PANELS[name]} (`{path.name}`)" for name, path in report.images.items()),
    ]
    return "\n".join(lines)


def png_markdown(path: Path, title: str) -> str:
    """A PNG inlined in markdown (a data URI), so it shows in the Dagster UI."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"![{title}](data:image/png;base64,{data})"


def run_report(
    settings: Settings,
    last_n_days: int = DEFAULT_LAST_N_DAYS,
    now: dt.datetime | None = None,
) -> tuple[CalibrationReport, str]:
    """``weather-edge report``: render the report for ``settings`` and return it with the
    text to print (the markdown summary)."""
    warehouse = open_warehouse(settings.warehouse_url)
    try:
        warehouse.migrate()
        report = nightly_report(warehouse, settings.reports_dir, last_n_days, now)
    finally:
        warehouse.close()
    return report, report_markdown(report)
