"""Where things live at run time, from the environment with sensible embedded defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_ENV = "WEATHER_EDGE_HOME"
WAREHOUSE_URL_ENV = "WEATHER_EDGE_WAREHOUSE_URL"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    warehouse_url: str

    @property
    def journal_dir(self) -> Path:
        return self.data_dir / "journal"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"


def load_settings(data_dir: str | Path | None = None) -> Settings:
    """Settings from arguments, then the environment, then the embedded default (./data)."""
    root = Path(data_dir or os.environ.get(DATA_DIR_ENV) or "data").resolve()
    url = os.environ.get(WAREHOUSE_URL_ENV) or f"duckdb:///{root / 'warehouse.duckdb'}"
    return Settings(data_dir=root, warehouse_url=url)
