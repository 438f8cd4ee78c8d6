"""Storage: the warehouse (DuckDB or PostgreSQL behind one interface) and the journal."""

from weather_edge.storage.warehouse import Warehouse, open_warehouse

__all__ = ["Warehouse", "open_warehouse"]
