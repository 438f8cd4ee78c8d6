"""The warehouse schema as an asset, so lineage starts from the tables' existence."""

import dagster as dg

from weather_edge.defs.resources import WAREHOUSE_WRITER_POOL, WarehouseResource


@dg.asset(group_name="storage", pool=WAREHOUSE_WRITER_POOL, kinds={"sql"})
def warehouse_schema(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Applies the project's versioned migrations (idempotent) to the configured warehouse."""
    wh = warehouse.open()
    versions = wh.applied_migrations()
    context.log.info("warehouse %s at schema version %s", wh.dialect, versions[-1])
    return dg.MaterializeResult(
        metadata={
            "dialect": wh.dialect,
            "schema_version": versions[-1],
            "migrations": len(versions),
        }
    )
