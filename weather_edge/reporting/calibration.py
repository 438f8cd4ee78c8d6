"""The nightly calibration report: one HTML page with PNG panels, last N days and cumulative.

Panels (each PNG has a "last N days" and a "cumulative" column):

* ``reliability`` — reliability diagram of the settled bracket probabilities per model;
* ``pit`` — PIT histogram per subject (the ``pit`` metric of ``scores``): flat is calibrated;
* ``scores_by_city_lead`` — the model's Brier and CRPS by city and lead time;
* ``subjects`` — model vs market vs blend, mean of each metric;
* ``pnl`` — cumulative realized P&L after fees and its drawdown, per mode;
* ``ev`` — EV predicted at decision time vs realized P&L, cumulative, per mode.

An empty warehouse renders every panel with a "no data yet" note. Matplotlib's ``Figure`` is
used without pyplot (Agg canvas), so rendering is thread-safe and needs no display.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from weather_edge.reporting.data import (
    LEAD_BUCKETS,
    PROBABILITY_BINS,
    ReportData,
    bracket_scores,
    daily_pnl,
    dollars,
    load_report_data,
    mean_scores,
    reliability,
)
from weather_edge.storage import Warehouse

PANELS: dict[str, str] = {
    "reliability": "Reliability diagram (bracket probabilities vs outcomes)",
    "pit": "PIT histogram (flat = calibrated)",
    "scores_by_city_lead": "Model Brier and CRPS by city and lead time",
    "subjects": "Model vs market vs blend",
    "pnl": "Realized P&L after fees and drawdown",
    "ev": "Predicted EV at decision time vs realized P&L",
}
SUBJECT_METRICS = ("brier", "log_loss", "crps", "rps", "mae")
SUBJECT_ORDER = ("model", "market", "blend")
NO_DATA = "no data yet"
DPI = 100


@dataclass(frozen=True)
class CalibrationReport:
    """Where the report went and a few headline figures for Dagster metadata.

    ``os.fspath(report)`` is the HTML path, so it can stand where a path is expected.
    """

    html: Path
    images: dict[str, Path]
    summary: dict[str, Any] = field(default_factory=dict)

    def __fspath__(self) -> str:
        return str(self.html)


Window = tuple[str, ReportData]
Draw = Callable[[Axes, ReportData], bool]


def render_calibration_report(
    warehouse: Warehouse,
    out_dir: str | Path,
    last_n_days: int = 30,
    now: dt.datetime | None = None,
) -> CalibrationReport:
    """Render the report into ``out_dir`` (created if needed) and return its paths and summary.

    "Last N days" are the climate days from ``now``'s UTC date minus ``last_n_days`` on.
    Without ``now`` the window ends at the latest scored climate day, so a backfill of old
    history (or a simulated run) gets a full window rather than an empty one.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    everything = load_report_data(warehouse)
    if now is None:
        latest = everything.scores["climate_day"].max() if everything.scores.height else None
        end = latest if isinstance(latest, dt.date) else dt.datetime.now(dt.UTC).date()
    else:
        end = now.astimezone(dt.UTC).date()
    first_day = end - dt.timedelta(days=last_n_days)
    windows: list[Window] = [
        (f"last {last_n_days} days", everything.since(first_day)),
        ("cumulative", everything),
    ]
    images = {name: out / f"{name}.png" for name in PANELS}
    _render_panel(images["reliability"], windows, _draw_reliability)
    _render_panel(images["pit"], windows, _draw_pit)
    _render_grid(images["scores_by_city_lead"], windows, ("brier", "crps"), _draw_city_lead)
    _render_grid(images["subjects"], windows, SUBJECT_METRICS, _draw_subject_metric)
    _render_grid(images["pnl"], windows, ("cumulative", "drawdown"), _draw_pnl)
    _render_panel(images["ev"], windows, _draw_ev)
    summary = summarize(windows, now=now or dt.datetime.now(dt.UTC), last_n_days=last_n_days)
    page = out / "calibration_report.html"
    page.write_text(_html(images, summary, windows), encoding="utf-8")
    return CalibrationReport(html=page, images=images, summary=summary)


# --- figures ------------------------------------------------------------------------------


def _no_data(ax: Axes) -> None:
    ax.text(
        0.5,
        0.5,
        NO_DATA,
        ha="center",
        va="center",
        fontsize=14,
        color="grey",
        transform=ax.transAxes,
    )
    ax.set_xticks([])
    ax.set_yticks([])


def _save(fig: Figure, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=DPI)


def _render_panel(path: Path, windows: list[Window], draw: Draw) -> None:
    """One axes per window, side by side."""
    fig = Figure(figsize=(6 * len(windows), 4.5))
    for i, (label, data) in enumerate(windows):
        ax = fig.add_subplot(1, len(windows), i + 1)
        ax.set_title(label)
        if not draw(ax, data):
            _no_data(ax)
    fig.suptitle(PANELS[path.stem])
    _save(fig, path)


def _render_grid(
    path: Path,
    windows: list[Window],
    rows: tuple[str, ...],
    draw: Callable[[Axes, ReportData, str], bool],
) -> None:
    """One row per item (a metric, a curve), one column per window."""
    fig = Figure(figsize=(6 * len(windows), 3.2 * len(rows)))
    for r, item in enumerate(rows):
        for c, (label, data) in enumerate(windows):
            ax = fig.add_subplot(len(rows), len(windows), r * len(windows) + c + 1)
            ax.set_title(f"{item} — {label}", fontsize=10)
            if not draw(ax, data, item):
                _no_data(ax)
    fig.suptitle(PANELS[path.stem])
    _save(fig, path)


def _draw_reliability(ax: Axes, data: ReportData) -> bool:
    if data.brackets.is_empty():
        return False
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect")
    for (key,), group in reliability(data.brackets).group_by("subject_key", maintain_order=True):
        sizes = [20 + 180 * n / max(group["n"]) for n in group["n"]]
        ax.plot(group["mean_predicted"], group["observed_frequency"], marker="o", label=str(key))
        ax.scatter(group["mean_predicted"], group["observed_frequency"], s=sizes, alpha=0.3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability (bin mean)")
    ax.set_ylabel("observed frequency")
    ax.legend(fontsize=8)
    return True


def _draw_pit(ax: Axes, data: ReportData) -> bool:
    pit = data.scores.filter(pl.col("metric") == "pit")
    if pit.is_empty():
        return False
    subjects = sorted(pit["subject"].unique().to_list())
    values = [pit.filter(pl.col("subject") == s)["value"].to_list() for s in subjects]
    edges = [i / PROBABILITY_BINS for i in range(PROBABILITY_BINS + 1)]
    ax.hist(values, bins=edges, density=True, label=subjects)
    ax.axhline(1.0, linestyle="--", color="grey", linewidth=1)
    ax.set_xlabel("PIT")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    return True


def _draw_city_lead(ax: Axes, data: ReportData, metric: str) -> bool:
    model = data.scores.filter((pl.col("metric") == metric) & (pl.col("subject") == "model"))
    if model.is_empty():
        return False
    means = mean_scores(model, "city", "lead_bucket")
    buckets = [b for b in LEAD_BUCKETS if b in set(means["lead_bucket"].to_list())]
    for (city,), group in means.group_by("city", maintain_order=True):
        by_bucket = dict(zip(group["lead_bucket"], group["mean"], strict=True))
        ax.plot(buckets, [by_bucket.get(b, math.nan) for b in buckets], marker="o", label=city)
    ax.set_xlabel("hours before the climate day ends")
    ax.set_ylabel(f"mean {metric}")
    ax.legend(fontsize=8)
    return True


def _draw_subject_metric(ax: Axes, data: ReportData, metric: str) -> bool:
    means = mean_scores(data.scores.filter(pl.col("metric") == metric), "subject")
    if means.is_empty():
        return False
    rank = {s: i for i, s in enumerate(SUBJECT_ORDER)}
    means = means.sort(pl.col("subject").replace_strict(rank, default=len(rank)), "subject")
    colors = [f"C{i % 10}" for i in range(means.height)]
    ax.bar(means["subject"].to_list(), means["mean"].to_list(), color=colors)
    for x, (mean, n) in enumerate(zip(means["mean"], means["n"], strict=True)):
        ax.annotate(f"{mean:.3g}\nn={n}", (x, mean), ha="center", va="bottom", fontsize=8)
    ax.margins(y=0.2)
    ax.set_ylabel(f"mean {metric} (lower is better)")
    return True


def _draw_pnl(ax: Axes, data: ReportData, curve: str) -> bool:
    if data.fills.is_empty():
        return False
    for (mode,), group in daily_pnl(data).group_by("mode", maintain_order=True):
        days = group["climate_day"].to_list()
        if curve == "cumulative":
            ax.plot(days, [dollars(v) for v in group["cumulative_micros"]], marker=".", label=mode)
            ax.axhline(0, color="grey", linewidth=0.8)
        else:
            values = [-dollars(v) for v in group["drawdown_micros"]]
            ax.fill_between(days, values, 0, alpha=0.4, label=mode)
    ax.set_ylabel("dollars")
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    ax.legend(fontsize=8)
    return True


def _draw_ev(ax: Axes, data: ReportData) -> bool:
    if data.fills.is_empty() and data.decisions.is_empty():
        return False
    for (mode,), group in daily_pnl(data).group_by("mode", maintain_order=True):
        days = group["climate_day"].to_list()
        ax.plot(
            days,
            [dollars(v) for v in group["cumulative_ev_micros"]],
            linestyle="--",
            label=f"{mode}: predicted EV",
        )
        ax.plot(days, [dollars(v) for v in group["cumulative_micros"]], label=f"{mode}: realized")
    ax.set_ylabel("cumulative dollars")
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    ax.legend(fontsize=8)
    return True


# --- summary and page ---------------------------------------------------------------------


def _round(value: Any, places: int = 6) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), places)


def _window_summary(data: ReportData) -> dict[str, Any]:
    out: dict[str, Any] = {"settled_brackets": data.brackets.height}
    scored = bracket_scores(data.brackets)
    for metric in ("brier", "log_loss"):
        out[f"bracket_{metric}"] = _round(scored[metric].mean()) if scored.height else None
    for row in mean_scores(data.scores, "subject").iter_rows(named=True):
        if row["metric"] in SUBJECT_METRICS:
            out[f"{row['metric']}_{row['subject']}"] = _round(row["mean"])
    totals = (
        daily_pnl(data)
        .group_by("mode")
        .agg(
            fills=pl.col("fills").sum(),
            realized_pnl=pl.col("realized_micros").sum(),
            fees=pl.col("fees_micros").sum(),
            predicted_ev=pl.col("predicted_ev_micros").sum(),
            max_drawdown=pl.col("drawdown_micros").max(),
        )
    )
    by_mode = {row.pop("mode"): row for row in totals.iter_rows(named=True)}
    for mode in sorted({"shadow", *by_mode}):  # shadow and live money are never added up
        row = by_mode.get(mode, {})
        out[f"fills_{mode}"] = int(row.get("fills", 0))
        for name in ("realized_pnl", "fees", "predicted_ev", "max_drawdown"):
            out[f"{name}_{mode}"] = _round(dollars(row.get(name, 0)))
    return out


def summarize(windows: list[Window], *, now: dt.datetime, last_n_days: int) -> dict[str, Any]:
    """Plain JSON figures per window (``last_n_days`` and ``cumulative``)."""
    recent, total = windows[0][1], windows[-1][1]
    return {
        "generated_at": now.isoformat(),
        "last_n_days": last_n_days,
        "window": _window_summary(recent),
        "cumulative": _window_summary(total),
    }


def _table(summary: dict[str, Any]) -> str:
    keys = list(dict.fromkeys([*summary["window"], *summary["cumulative"]]))
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{_cell(summary['window'].get(k))}</td>"
        f"<td>{_cell(summary['cumulative'].get(k))}</td></tr>"
        for k in keys
    )
    head = f"<tr><th>figure</th><th>last {summary['last_n_days']} days</th><th>cumulative</th></tr>"
    return f"<table>{head}{rows}</table>"


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _html(images: dict[str, Path], summary: dict[str, Any], windows: list[Window]) -> str:
    sections = "".join(
        f'<section id="{name}"><h2>{html.escape(PANELS[name])}</h2>'
        f'<img src="{path.name}" alt="{html.escape(PANELS[name])}"></section>'
        for name, path in images.items()
    )
    labels = " and ".join(label for label, _ in windows)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<title>weather_edge calibration report</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:1300px}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}"
        "img{max-width:100%}</style></head><body>"
        "<h1>weather_edge calibration report</h1>"
        f"<p>Generated {html.escape(summary['generated_at'])}; each panel shows "
        f"{html.escape(labels)}. Scores: lower is better. Lead time: hours before the climate "
        "day ends (local standard time).</p>"
        f"{_table(summary)}{sections}</body></html>"
    )
