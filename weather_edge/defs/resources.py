"""Resources, chosen per environment from configuration (embedded default or production)."""

import dagster as dg

from weather_edge.settings import Settings
from weather_edge.storage import Warehouse, open_warehouse

WAREHOUSE_WRITER_POOL = "warehouse_writer"


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse the assets read and write (DuckDB file or PostgreSQL URL)."""

    url: str

    def open(self) -> Warehouse:
        warehouse = open_warehouse(self.url)
        warehouse.migrate()
        return warehouse


def build_resources(settings: Settings) -> dict[str, object]:
    return {"warehouse": WarehouseResource(url=settings.warehouse_url)}
