"""Kalshi: wire protocol, order books, fees, tickers, rule texts and recorded market data."""
