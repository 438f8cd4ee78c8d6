"""The calibration report renders on both backends, full or empty, with the panels it promises."""

from __future__ import annotations

import html
import os
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from weather_edge.reporting import PANELS, CalibrationReport, render_calibration_report
from weather_edge.reporting.data import daily_pnl, lead_bucket, load_report_data
from weather_edge.storage import Warehouse
from weather_edge_tests.analytics.dataset import NOW, seed

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_report(report: CalibrationReport) -> str:
    """The HTML exists and references every PNG; every PNG is a real, sizeable image."""
    assert report.html.is_file()
    assert os.fspath(report) == str(report.html)
    page = report.html.read_text(encoding="utf-8")
    assert set(report.images) == set(PANELS)
    referenced = set(re.findall(r'<img src="([^"]+)"', page))
    assert referenced == {p.name for p in report.images.values()}
    for name, path in report.images.items():
        assert path.parent == report.html.parent
        assert path.read_bytes()[:8] == PNG_SIGNATURE, name
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            width, height = image.size
            assert image.format == "PNG"
            assert width >= 1000 and height >= 400, (name, image.size)  # two windows side by side
        assert html.escape(PANELS[name]) in page
    return page


def test_report_on_a_seeded_warehouse(warehouse: Warehouse, tmp_path: Path) -> None:
    data = seed(warehouse)
    report = render_calibration_report(warehouse, tmp_path / "report", last_n_days=30, now=NOW)
    page = check_report(report)
    assert "no data yet" not in page
    summary = report.summary
    total, recent = summary["cumulative"], summary["window"]
    assert summary["last_n_days"] == 30
    assert total["settled_brackets"] == len(data.rows["bracket_predictions"])
    assert recent["settled_brackets"] == total["settled_brackets"] - 20  # the old day: 2 x 2 x 5
    assert total["realized_pnl_shadow"] == pytest.approx(
        sum(data.realized_pnl_micros.values()) / 1e6
    )
    assert total["fees_shadow"] == pytest.approx(sum(data.fees_micros.values()) / 1e6)
    assert total["fills_shadow"] == len(data.rows["fills"])
    assert total["max_drawdown_shadow"] >= 0
    assert "realized_pnl_live" not in total  # no live trading in the dataset
    for subject in ("model", "market", "blend"):
        for metric in ("brier", "log_loss", "crps", "rps"):
            assert total[f"{metric}_{subject}"] is not None
    assert 0 < total["bracket_brier"] < 1
    # Scored sizes: the PNGs with one row per metric are taller than the single-row ones.
    heights = {name: Image.open(path).size[1] for name, path in report.images.items()}
    assert heights["subjects"] > heights["scores_by_city_lead"] > heights["reliability"]


def test_report_on_an_empty_warehouse(warehouse: Warehouse, tmp_path: Path) -> None:
    report = render_calibration_report(warehouse, tmp_path / "empty", now=NOW)
    page = check_report(report)
    assert report.summary["cumulative"]["settled_brackets"] == 0
    assert report.summary["cumulative"]["realized_pnl_shadow"] == 0.0
    assert "—" in page  # unknown scores are shown as a dash, not as zero
    empty = Image.open(report.images["reliability"]).convert("L")
    seeded_like = Image.new("L", empty.size, 255)
    assert empty.tobytes() != seeded_like.tobytes()  # the "no data yet" note is drawn


def test_pnl_and_drawdown_by_hand(warehouse: Warehouse) -> None:
    """Buy 10 YES at 40 ¢ (wins), buy 5 NO at 70 ¢ (loses), sell 2 YES at 90 ¢ (wins)."""
    days = [date(2025, 12, 1), date(2025, 12, 2), date(2025, 12, 3)]
    ts = datetime(2025, 12, 1, 12, tzinfo=UTC)
    warehouse.upsert(
        "markets",
        [
            {
                "ticker": f"M{i}",
                "event_ticker": f"E{i}",
                "series_ticker": "KXHIGHNY",
                "city": "NYC",
                "climate_day": d,
                "strike_type": "between",
                "status": "settled",
                "updated_at": ts,
            }
            for i, d in enumerate(days)
        ],
    )
    warehouse.upsert(
        "settlements",
        [
            {"market_ticker": f"M{i}", "city": "NYC", "climate_day": d, "market_result": "yes"}
            for i, d in enumerate(days)
        ],
    )
    fills = [
        ("M0", "yes", "buy", 4_000, 1_000),
        ("M1", "no", "buy", 7_000, 500),
        ("M2", "yes", "sell", 9_000, 200),
    ]
    warehouse.upsert(
        "fills",
        [
            {
                "fill_id": f"F{i}",
                "market_ticker": m,
                "side": s,
                "action": a,
                "price_cc": p,
                "count_cq": c,
                "fee_micros": 10_000,
                "is_taker": True,
                "mode": "shadow",
                "ts": ts + timedelta(days=i),
            }
            for i, (m, s, a, p, c) in enumerate(fills)
        ],
    )
    daily = daily_pnl(load_report_data(warehouse))
    # +10 x 0.60 - fee; -5 x 0.70 - fee; -2 x 0.10 - fee (sold at 0.90 what paid 1.00)
    assert daily["realized_micros"].to_list() == [5_990_000, -3_510_000, -210_000]
    assert daily["cumulative_micros"].to_list() == [5_990_000, 2_480_000, 2_270_000]
    assert daily["drawdown_micros"].to_list() == [0, 3_510_000, 3_720_000]


def test_lead_buckets_match_the_dbt_macro() -> None:
    hours = pl.DataFrame({"h": [None, -1.0, 0.0, 11.9, 12.0, 30.0, 47.9, 48.0, 100.0]})
    buckets = hours.select(bucket=lead_bucket(pl.col("h")))["bucket"].to_list()
    assert buckets == [
        "unknown",
        "after_day",
        "00-12h",
        "00-12h",
        "12-24h",
        "24-36h",
        "36-48h",
        "48h+",
        "48h+",
    ]
    macro = (Path(__file__).resolve().parents[2] / "dbt" / "macros" / "time.sql").read_text()
    assert re.findall(r"then '([^']+)'|else '([^']+)'", macro) == [
        ("unknown", ""),
        ("after_day", ""),
        ("00-12h", ""),
        ("12-24h", ""),
        ("24-36h", ""),
        ("36-48h", ""),
        ("", "48h+"),
    ]
