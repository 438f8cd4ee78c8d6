"""``weather-edge bench ingest``: messages/s through the whole ingestion path.

Frames are the recorded-like WebSocket stream of ``bench book`` (real KXHIGHNY books, then a
seeded walk of real-shaped deltas). Three measurements in one run:

* file: frames -> journal segment -> :class:`JournalProcessor` -> warehouse (DuckDB), as a
  restart or a replay of the journal does, with no socket;
* socket: a loopback WebSocket server speaking Kalshi's envelope sends the frames to the
  real :class:`KalshiWebSocket` client, whose sink is the journal, followed by the processor;
* baseline: the same frames through the same books, each quote inserted row by row.

RSS growth is measured across a long file run (1,000,000 messages by default).
"""

from __future__ import annotations

import asyncio
import gc
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from weather_edge.bench.book import recorded_stream
from weather_edge.ingest.processor import JournalProcessor
from weather_edge.kalshi.book import BookStore, SnapshotMessage, decode_book_message
from weather_edge.kalshi.ws import KalshiWebSocket, RawMessage
from weather_edge.storage import open_warehouse
from weather_edge.storage.journal import JournalWriter


def rss_mb() -> float:
    """Resident memory of this process now (Linux /proc; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _journal_frames(frames: list[bytes], journal_dir: Path) -> None:
    with JournalWriter(journal_dir, flush_every=1024) as writer:
        for seq, frame in enumerate(frames, start=1):
            writer.append(frame, received_ns=time.time_ns(), connection_id=1, sid=1, seq=seq)


def file_path_rate(frames: list[bytes], workdir: Path) -> tuple[float, int]:
    """Journal + process + write; returns (msg/s, quotes written)."""
    journal_dir = workdir / "journal"
    warehouse = open_warehouse(f"duckdb:///{workdir / 'file.duckdb'}")
    warehouse.migrate()
    started = time.perf_counter()
    _journal_frames(frames, journal_dir)
    processor = JournalProcessor(warehouse)
    processor.catch_up(journal_dir, batch_rows=100_000)
    elapsed = time.perf_counter() - started
    return len(frames) / elapsed, processor.stats.quotes


def baseline_rate(frames: list[bytes], workdir: Path) -> float:
    """The same books, but every top-of-book change inserted as its own row."""
    warehouse = open_warehouse(f"duckdb:///{workdir / 'baseline.duckdb'}")
    warehouse.migrate()
    store = BookStore()
    started = time.perf_counter()
    with warehouse.session() as session:
        for seq, frame in enumerate(frames, start=1):
            message = decode_book_message(frame)
            if message is None:
                continue
            top = store.apply_message(message)
            if top is None:
                continue
            now = datetime.now(UTC)
            session.execute(
                "INSERT INTO quotes (market_ticker, source_id, ts, received_at, yes_bid_cc, "
                "yes_bid_size_cq, yes_ask_cc, yes_ask_size_cq, source) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    top.market_ticker,
                    f"b@{seq}",
                    now,
                    now,
                    top.yes_bid_cc,
                    top.yes_bid_cq,
                    top.yes_ask_cc,
                    top.yes_ask_cq,
                    "baseline",
                ),
            )
    return len(frames) / (time.perf_counter() - started)


def _serve_frames(frames: list[bytes], port_out: Any) -> None:
    """A loopback server in its own process: it sends the frames once a client subscribes."""
    from websockets.asyncio.server import serve

    async def handler(connection: Any) -> None:
        command = json.loads(await connection.recv())
        reply = {
            "id": command["id"],
            "type": "subscribed",
            "msg": {"channel": "orderbook_delta", "sid": 1},
        }
        await connection.send(json.dumps(reply))
        for frame in frames:
            await connection.send(frame)
        await connection.wait_closed()

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0) as server:
            port_out.put(next(iter(server.sockets)).getsockname()[1])
            await asyncio.Future()

    asyncio.run(main())


async def _socket_run(frames: list[bytes], workdir: Path) -> float:
    """The real client (journal sink, processor following) against a server process."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    port_queue: Any = ctx.Queue()
    server = ctx.Process(target=_serve_frames, args=(frames, port_queue), daemon=True)
    server.start()
    port = port_queue.get(timeout=60)
    journal_dir = workdir / "socket-journal"
    writer = JournalWriter(journal_dir, flush_every=1024)
    received = 0
    done = asyncio.Event()

    def sink(message: RawMessage) -> None:
        nonlocal received
        writer.append(
            message.raw,
            received_ns=message.received_ns,
            connection_id=message.connection_id,
            sid=message.sid or -1,
            seq=message.seq if message.seq is not None else -1,
        )
        received += 1
        if received >= len(frames):
            done.set()

    warehouse = open_warehouse(f"duckdb:///{workdir / 'socket.duckdb'}")
    warehouse.migrate()
    processor = JournalProcessor(warehouse)
    try:
        client = KalshiWebSocket(
            f"ws://127.0.0.1:{port}/trade-api/ws/v2", sink=sink, stale_after=600.0
        )
        tickers = sorted(
            {
                m.msg.market_ticker
                for f in frames[:50]
                if isinstance(m := decode_book_message(f), SnapshotMessage)
            }
        )
        await client.subscribe("orderbook_delta", tickers, wait=False)
        started = time.perf_counter()
        runner = asyncio.create_task(client.run(None))

        async def follow() -> None:
            while not done.is_set():
                await asyncio.sleep(0.2)
                writer.flush()
                await asyncio.to_thread(processor.catch_up, journal_dir, 100_000)

        follower = asyncio.create_task(follow())
        await asyncio.wait_for(done.wait(), timeout=600)
        await follower
        writer.close()
        processor.catch_up(journal_dir, 100_000)
        elapsed = time.perf_counter() - started
        await client.close()
        await runner
    finally:
        server.terminate()
        server.join(10)
    return received / elapsed


def run_ingest_bench(
    n_messages: int = 200_000,
    rss_messages: int = 1_000_000,
    baseline_messages: int = 20_000,
    echo: Callable[[str], None] = print,
) -> str:
    workdir = Path(tempfile.mkdtemp(prefix="weather-edge-bench-ingest-"))
    try:
        frames, source = recorded_stream(n_messages)
        echo(f"{len(frames):,} WS frames from {source}")
        gc.collect()
        file_rate, quotes = file_path_rate(frames, workdir / "file")
        echo(f"file   -> journal -> tables: {file_rate:>10,.0f} msg/s ({quotes:,} quote rows)")
        socket_rate = asyncio.run(_socket_run(frames, workdir / "socket"))
        echo(f"socket -> journal -> tables: {socket_rate:>10,.0f} msg/s")
        base = baseline_rate(frames[:baseline_messages], workdir / "baseline")
        echo(
            f"row-by-row inserts (baseline): {base:>8,.0f} msg/s "
            f"({min(baseline_messages, len(frames)):,} frames)"
        )
        del frames
        gc.collect()
        before = rss_mb()
        long_frames, _ = recorded_stream(rss_messages, seed_value=7)
        peak_path = workdir / "rss"
        file_path_rate(long_frames, peak_path)
        del long_frames
        gc.collect()
        growth = rss_mb() - before
        echo(
            f"RSS growth across {rss_messages:,} messages: {growth:.1f} MB (now {rss_mb():.0f} MB)"
        )
        ratio = file_rate / base
        return (
            f"bench ingest: {file_rate:.0f} msg/s file, {socket_rate:.0f} msg/s socket, "
            f"{ratio:.1f}x baseline, rss {growth:.0f} MB"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
