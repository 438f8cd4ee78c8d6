"""Quote ingestion under Dagster: a bounded streaming run kept alive by a sensor, the market
catalog, and partitioned micro-batch assets over what landed."""

import asyncio
import os
from datetime import UTC, date, datetime

import dagster as dg
from pydantic import Field

from weather_edge.defs.partitions import day_city_partitions
from weather_edge.defs.resources import WAREHOUSE_WRITER_POOL, KalshiResource, WarehouseResource
from weather_edge.ingest import keeper
from weather_edge.ingest.catalog import catalog_market_row
from weather_edge.ingest.processor import JournalProcessor
from weather_edge.ingest.streamer import (
    DEFAULT_CHANNELS,
    StreamHealth,
    StreamOptions,
    stream_window,
)
from weather_edge.kalshi.errors import NotFoundError
from weather_edge.kalshi.rest import KalshiRestClient
from weather_edge.kalshi.tickers import EventTicker
from weather_edge.storage import Warehouse
from weather_edge.trading.config import PARAMS_FILE_ENV, TradingParams
from weather_edge.trading.fastpath import FastPath
from weather_edge.weather.cities import get_city

INGESTION_TAG = "weather_edge/ingestion"
ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
FINISHED_STATUSES = [
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE,
    dg.DagsterRunStatus.CANCELED,
]


class QuoteIngestionConfig(dg.Config):
    duration_s: float = 4 * 3600.0
    cities: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=lambda: list(DEFAULT_CHANNELS))
    catalog_refresh_s: float = 300.0
    stale_after_s: float = 60.0
    health_interval_s: float = 30.0
    fast_path: bool = False  # evaluate every book change with the cached prediction
    trading_params_file: str | None = None  # default: $WEATHER_EDGE_TRADING_PARAMS


@dg.op(tags={"kind": "stream"})
def stream_quotes(
    context: dg.OpExecutionContext,
    config: QuoteIngestionConfig,
    kalshi: KalshiResource,
    warehouse: WarehouseResource,
) -> dg.Output[dict[str, object]]:
    """Streams the WebSocket into the journal and tables for a bounded window, then exits."""
    options = StreamOptions(
        duration_s=config.duration_s,
        cities=tuple(config.cities),
        channels=tuple(config.channels),
        catalog_refresh_s=config.catalog_refresh_s,
        stale_after_s=config.stale_after_s,
        health_interval_s=config.health_interval_s,
    )

    def observe(health: StreamHealth) -> None:
        context.log_event(dg.AssetObservation(asset_key="quotes", metadata=health.metadata()))

    listener_factory = None
    if config.fast_path:
        params_file = config.trading_params_file or os.environ.get(PARAMS_FILE_ENV)
        params = TradingParams.from_file(params_file) if params_file else TradingParams()

        def listener_factory(wh: Warehouse) -> FastPath:
            return FastPath(params, wh, cities=config.cities)

    health = asyncio.run(
        stream_window(
            warehouse.settings(),
            kalshi.config(),
            kalshi.signer(),
            options,
            observe,
            listener_factory,
        )
    )
    observe(health)
    return dg.Output(health.metadata(), metadata=health.metadata())


@dg.job(tags={INGESTION_TAG: "quote_stream"})
def quote_ingestion() -> None:
    stream_quotes()


@dg.sensor(
    job=quote_ingestion,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps exactly one quote-ingestion run alive, restarting with backoff.",
)
def quote_ingestion_keeper(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    instance = context.instance
    active = instance.get_run_records(
        dg.RunsFilter(job_name=quote_ingestion.name, statuses=ACTIVE_STATUSES), limit=1
    )
    finished = instance.get_run_records(
        dg.RunsFilter(job_name=quote_ingestion.name, statuses=FINISHED_STATUSES), limit=1
    )
    last = None
    if finished:
        record = finished[0]
        ended = record.end_time or record.update_timestamp.timestamp()
        last = keeper.FinishedRun(
            record.dagster_run.run_id,
            record.dagster_run.status == dg.DagsterRunStatus.SUCCESS,
            datetime.fromtimestamp(ended, tz=UTC),
        )
    decision = keeper.decide(
        datetime.now(UTC),
        active[0].dagster_run.run_id if active else None,
        last,
        keeper.KeeperCursor.loads(context.cursor),
    )
    if not decision.request:
        return dg.SensorResult(skip_reason=decision.reason, cursor=decision.cursor.dumps())
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=decision.run_key, tags={INGESTION_TAG: "quote_stream"})
        ],
        cursor=decision.cursor.dumps(),
    )


def partition_of(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
) -> tuple[date, str]:
    key = context.partition_key
    assert isinstance(key, dg.MultiPartitionKey), "assets here are partitioned by day x city"
    keys = key.keys_by_dimension
    return date.fromisoformat(keys["day"]), keys["city"]


@dg.asset(
    partitions_def=day_city_partitions,
    group_name="market_data",
    pool=WAREHOUSE_WRITER_POOL,
    kinds={"kalshi"},
)
def market_catalog(
    context: dg.AssetExecutionContext, kalshi: KalshiResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The partition's event and its markets from Kalshi REST, checked against the registry."""
    day, city_code = partition_of(context)
    event = EventTicker(get_city(city_code).series_ticker, day).ticker

    async def fetch() -> list[dict[str, object]]:
        async with KalshiRestClient(kalshi.config(), signer=kalshi.signer()) as rest:
            try:
                detail = await rest.get_event(event, with_nested_markets=True)
            except NotFoundError:
                return []  # no event listed for that day
        now = datetime.now(UTC)
        markets = detail.markets or detail.event.markets or []
        return [r for m in markets if (r := catalog_market_row(m, now)) is not None]

    rows = asyncio.run(fetch())
    warehouse.open().upsert("markets", rows, update=True)
    problems = [f"{r['ticker']}: {r['rules_problem']}" for r in rows if not r["rules_ok"]]
    return dg.MaterializeResult(
        metadata={
            "event": event,
            "markets": len(rows),
            "rules_problems": len(problems),
            "problems": "\n".join(problems) or "none",
        }
    )


def _landed(
    warehouse: WarehouseResource, table: str, ts_column: str, day: date, city: str
) -> dg.MaterializeResult:
    wh = warehouse.open()
    applied = JournalProcessor(wh).catch_up(warehouse.settings().journal_dir)
    count, newest = wh.query(
        f"SELECT COUNT(*), MAX(t.{ts_column}) FROM {table} t JOIN markets m "
        "ON m.ticker = t.market_ticker WHERE m.city = ? AND m.climate_day = ?",
        (city, day),
    )[0]
    return dg.MaterializeResult(
        metadata={"rows": int(count), "newest": str(newest), "journal_records_applied": applied}
    )


def micro_batch(fn):
    """The shared shape of the quote, trade and lifecycle micro-batch assets."""
    return dg.asset(
        partitions_def=day_city_partitions,
        group_name="market_data",
        pool=WAREHOUSE_WRITER_POOL,
        deps=["market_catalog"],
        kinds={"duckdb"},
    )(fn)


@micro_batch
def quotes(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Top of book on every change, for the partition's markets (applies the journal first)."""
    return _landed(warehouse, "quotes", "ts", *partition_of(context))


@micro_batch
def trades(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every printed trade of the partition's markets."""
    return _landed(warehouse, "trades", "ts", *partition_of(context))


@micro_batch
def lifecycle_events(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Lifecycle messages (activated, determined, settled...) of the partition's markets."""
    return _landed(warehouse, "lifecycle_events", "ts", *partition_of(context))


class QuoteFreshnessConfig(dg.Config):
    limit_s: float = 300.0  # an open market's newest quote may be this old at most


@dg.asset_check(asset=quotes, description="Open markets have a quote younger than the limit.")
def quotes_fresh(
    context: dg.AssetCheckExecutionContext,
    config: QuoteFreshnessConfig,
    warehouse: WarehouseResource,
) -> dg.AssetCheckResult:
    now = datetime.now(UTC)
    rows = warehouse.open().query(
        "SELECT m.ticker, MAX(q.received_at) FROM markets m LEFT JOIN quotes q "
        "ON q.market_ticker = m.ticker WHERE m.status IN ('active', 'open') "
        "AND (m.close_time IS NULL OR m.close_time > ?) GROUP BY m.ticker",
        (now,),
    )
    stale = {
        ticker: (None if newest is None else round((now - newest).total_seconds(), 1))
        for ticker, newest in rows
        if newest is None or (now - newest).total_seconds() > config.limit_s
    }
    return dg.AssetCheckResult(
        passed=not stale,
        metadata={
            "open_markets": len(rows),
            "stale_markets": len(stale),
            "stale": ", ".join(f"{t} ({a} s)" for t, a in sorted(stale.items())) or "none",
            "limit_s": config.limit_s,
        },
    )
