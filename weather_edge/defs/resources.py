"""Resources, chosen per environment from configuration (embedded default or production).

Secrets never pass through run config or the event log: the Kalshi key id and key path come
from the environment via ``dg.EnvVar``, and the key itself stays in its file.
"""

import os
from pathlib import Path

import dagster as dg

from weather_edge.kalshi.auth import KalshiSigner
from weather_edge.kalshi.config import (
    ENV_ENVIRONMENT,
    ENV_KEY_ID,
    ENV_KEY_PATH,
    ENV_RATE_TIER,
    ENV_REST_URL,
    ENV_WS_URL,
    KalshiConfig,
)
from weather_edge.settings import Settings
from weather_edge.storage import Warehouse, open_warehouse

WAREHOUSE_WRITER_POOL = "warehouse_writer"


class WarehouseResource(dg.ConfigurableResource):
    """The data directory (journal, reports) and the warehouse (DuckDB file or PostgreSQL)."""

    url: str
    data_dir: str

    def open(self) -> Warehouse:
        warehouse = open_warehouse(self.url)
        warehouse.migrate()
        return warehouse

    def settings(self) -> Settings:
        return Settings(data_dir=Path(self.data_dir), warehouse_url=self.url)


class KalshiResource(dg.ConfigurableResource):
    """Where the exchange is (production, demo, or custom URLs such as the simulator)."""

    environment: str = "demo"
    rest_url: str | None = None
    ws_url: str | None = None
    rate_tier: str = "basic"
    api_key_id: str | None = None
    private_key_path: str | None = None

    def config(self) -> KalshiConfig:
        return KalshiConfig.for_environment(
            self.environment,
            rest_url=self.rest_url,
            ws_url=self.ws_url,
            tier=self.rate_tier,
            key_id=self.api_key_id,
            private_key_path=self.private_key_path,
        )

    def signer(self) -> KalshiSigner | None:
        if not self.api_key_id or not self.private_key_path:
            return None
        return KalshiSigner.from_file(self.api_key_id, self.private_key_path)

    @property
    def has_credentials(self) -> bool:
        return bool(self.api_key_id and self.private_key_path)


def _env_or_none(name: str) -> dg.EnvVar | None:
    return dg.EnvVar(name) if os.environ.get(name) else None


def kalshi_resource_from_env() -> KalshiResource:
    return KalshiResource(
        environment=os.environ.get(ENV_ENVIRONMENT, "demo"),
        rest_url=os.environ.get(ENV_REST_URL) or None,
        ws_url=os.environ.get(ENV_WS_URL) or None,
        rate_tier=os.environ.get(ENV_RATE_TIER, "basic"),
        api_key_id=_env_or_none(ENV_KEY_ID),
        private_key_path=_env_or_none(ENV_KEY_PATH),
    )


def build_resources(settings: Settings) -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(url=settings.warehouse_url, data_dir=str(settings.data_dir)),
        "kalshi": kalshi_resource_from_env(),
    }
