-- Core tables. Portable SQL: the same text runs on DuckDB and PostgreSQL.
-- Units: *_cc = centi-cents (1/10,000 dollar); *_cq = centi-contracts (1/100 contract);
-- *_micros = micro-dollars (1/1,000,000 dollar); temperatures in °F. Every timestamp is UTC.
-- Keys make re-ingesting a message or re-materializing a partition idempotent.

CREATE TABLE IF NOT EXISTS series (
    series_ticker TEXT PRIMARY KEY,
    title TEXT,
    fee_type TEXT NOT NULL,
    fee_multiplier TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS markets (
    ticker TEXT PRIMARY KEY,
    event_ticker TEXT NOT NULL,
    series_ticker TEXT NOT NULL,
    city TEXT NOT NULL,
    climate_day DATE NOT NULL,
    strike_type TEXT NOT NULL,
    floor_strike INTEGER,
    cap_strike INTEGER,
    wins_low_f INTEGER,
    wins_high_f INTEGER,
    status TEXT NOT NULL,
    open_time TIMESTAMPTZ,
    close_time TIMESTAMPTZ,
    expiration_time TIMESTAMPTZ,
    result TEXT,
    rules_primary TEXT,
    rules_ok BOOLEAN,
    rules_problem TEXT,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS quotes (
    market_ticker TEXT NOT NULL,
    source_id TEXT NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    yes_bid_cc INTEGER,
    yes_bid_size_cq BIGINT,
    yes_ask_cc INTEGER,
    yes_ask_size_cq BIGINT,
    source TEXT NOT NULL,
    PRIMARY KEY (market_ticker, source_id)
);

CREATE TABLE IF NOT EXISTS trades (
    trade_id TEXT PRIMARY KEY,
    market_ticker TEXT NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    yes_price_cc INTEGER NOT NULL,
    no_price_cc INTEGER NOT NULL,
    count_cq BIGINT NOT NULL,
    taker_side TEXT NOT NULL,
    source TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS lifecycle_events (
    market_ticker TEXT NOT NULL,
    event_type TEXT NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    result TEXT,
    settlement_value_cc INTEGER,
    payload TEXT,
    PRIMARY KEY (market_ticker, event_type, ts)
);

CREATE TABLE IF NOT EXISTS forecasts (
    city TEXT NOT NULL,
    climate_day DATE NOT NULL,
    source TEXT NOT NULL,
    issued_at TIMESTAMPTZ NOT NULL,
    forecast_high_f DOUBLE PRECISION NOT NULL,
    sigma_f DOUBLE PRECISION,
    lead_hours DOUBLE PRECISION NOT NULL,
    suspect BOOLEAN NOT NULL DEFAULT FALSE,
    retrieved_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (city, climate_day, source, issued_at)
);

CREATE TABLE IF NOT EXISTS observations (
    station_id TEXT NOT NULL,
    observed_at TIMESTAMPTZ NOT NULL,
    city TEXT NOT NULL,
    climate_day DATE NOT NULL,
    temperature_f DOUBLE PRECISION NOT NULL,
    running_max_f DOUBLE PRECISION NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (station_id, observed_at, source)
);

CREATE TABLE IF NOT EXISTS climate_reports (
    city TEXT NOT NULL,
    climate_day DATE NOT NULL,
    product_id TEXT NOT NULL,
    issued_at TIMESTAMPTZ,
    high_f INTEGER,
    high_time_local TEXT,
    low_f INTEGER,
    preliminary BOOLEAN NOT NULL,
    correction BOOLEAN NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (city, climate_day, product_id)
);

CREATE TABLE IF NOT EXISTS predictions (
    city TEXT NOT NULL,
    climate_day DATE NOT NULL,
    snapshot_at TIMESTAMPTZ NOT NULL,
    model_version TEXT NOT NULL,
    variant TEXT NOT NULL,
    distribution_json TEXT NOT NULL,
    median_f INTEGER NOT NULL,
    inputs_hash TEXT NOT NULL,
    PRIMARY KEY (city, climate_day, snapshot_at, model_version, variant)
);

CREATE TABLE IF NOT EXISTS bracket_predictions (
    market_ticker TEXT NOT NULL,
    snapshot_at TIMESTAMPTZ NOT NULL,
    model_version TEXT NOT NULL,
    variant TEXT NOT NULL,
    city TEXT NOT NULL,
    climate_day DATE NOT NULL,
    probability DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (market_ticker, snapshot_at, model_version, variant)
);

CREATE TABLE IF NOT EXISTS decisions (
    decision_id TEXT PRIMARY KEY,
    evaluated_at TIMESTAMPTZ NOT NULL,
    market_ticker TEXT NOT NULL,
    city TEXT NOT NULL,
    climate_day DATE NOT NULL,
    mode TEXT NOT NULL,
    would_trade BOOLEAN NOT NULL,
    side TEXT,
    action TEXT,
    liquidity TEXT,
    price_cc INTEGER,
    count_cq BIGINT,
    probability DOUBLE PRECISION,
    ev_per_contract_micros BIGINT,
    reason TEXT NOT NULL,
    model_version TEXT,
    config_hash TEXT NOT NULL,
    inputs_json TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY,
    order_id TEXT,
    decision_id TEXT,
    market_ticker TEXT NOT NULL,
    side TEXT NOT NULL,
    action TEXT NOT NULL,
    price_cc INTEGER NOT NULL,
    count_cq BIGINT NOT NULL,
    filled_cq BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    mode TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS fills (
    fill_id TEXT PRIMARY KEY,
    client_order_id TEXT,
    order_id TEXT,
    market_ticker TEXT NOT NULL,
    side TEXT NOT NULL,
    action TEXT NOT NULL,
    price_cc INTEGER NOT NULL,
    count_cq BIGINT NOT NULL,
    fee_micros BIGINT NOT NULL,
    is_taker BOOLEAN NOT NULL,
    mode TEXT NOT NULL,
    ts TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS settlements (
    market_ticker TEXT PRIMARY KEY,
    city TEXT NOT NULL,
    climate_day DATE NOT NULL,
    market_result TEXT,
    cli_high_f INTEGER,
    expected_result TEXT,
    agrees BOOLEAN,
    settled_at TIMESTAMPTZ,
    later_cli_high_f INTEGER
);

CREATE TABLE IF NOT EXISTS scores (
    city TEXT NOT NULL,
    climate_day DATE NOT NULL,
    subject TEXT NOT NULL,
    subject_key TEXT NOT NULL,
    metric TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    lead_hours DOUBLE PRECISION,
    PRIMARY KEY (city, climate_day, subject, subject_key, metric)
);

-- Which journal bytes have been applied to the derived tables (crash-safe resumption).
CREATE TABLE IF NOT EXISTS journal_progress (
    segment TEXT PRIMARY KEY,
    applied_offset BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
