"""The warehouse: one interface, two backends (embedded DuckDB, PostgreSQL).

Writers never hold DuckDB's single-writer file lock for long: each session opens the file,
does its work and closes it, retrying while another process holds the lock. So the streamer,
asset runs and a notebook can share one embedded file (see architecture.md).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeAlias, TypeVar

import polars as pl
import pyarrow as pa

from weather_edge.storage.schema import key_of

log = logging.getLogger(__name__)
T = TypeVar("T")

Rows: TypeAlias = "Sequence[Mapping[str, Any]] | pl.DataFrame | pa.Table"
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class WarehouseError(RuntimeError):
    """A storage problem the caller can act on (bad URL, naive timestamps, lock timeout)."""


class Session(Protocol):
    """What callers get inside ``Warehouse.session()``: one transaction."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


def migrations() -> list[tuple[int, str, str]]:
    """The project's migrations as (version, name, sql), in order."""
    folder = resources.files("weather_edge.storage").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found)


def split_statements(sql: str) -> list[str]:
    body = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [stmt.strip() for stmt in body.split(";") if stmt.strip()]


def rows_to_arrow(rows: Rows) -> pa.Table:
    """Rows (dicts, a polars frame or an Arrow table) -> an Arrow table; naive times refused."""
    if isinstance(rows, pa.Table):
        table = rows
    elif isinstance(rows, pl.DataFrame):
        table = rows.to_arrow()
    else:
        table = pa.Table.from_pylist(list(rows))
    for field in table.schema:
        if pa.types.is_timestamp(field.type) and field.type.tz is None:
            raise WarehouseError(
                f"column {field.name!r} holds naive timestamps: every timestamp must be UTC-aware"
            )
    return table


def dedupe_on_key(table: pa.Table, key: Sequence[str]) -> pa.Table:
    """Keep the last row per key so one batch never conflicts with itself."""
    if table.num_rows < 2:
        return table
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame.unique(subset=list(key), keep="last", maintain_order=True).to_arrow()


def upsert_sql(table: str, columns: Sequence[str], source: str, update: bool) -> str:
    cols = ", ".join(columns)
    sql = f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {source}"
    key = key_of(table)
    non_key = [c for c in columns if c not in key]
    if update and non_key:
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in non_key)
        return f"{sql} ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}"
    return f"{sql} ON CONFLICT DO NOTHING"


class Warehouse(ABC):
    """Tables of the platform. Use ``session()`` for a transaction, or the one-shot helpers."""

    dialect: str

    def __init__(self, url: str) -> None:
        self.url = url

    @abstractmethod
    def session(self) -> Any:
        """A context manager yielding a ``Session`` that commits on success."""

    @abstractmethod
    def _upsert_in(self, session: Any, table: str, data: pa.Table, update: bool) -> int:
        """Write ``data`` inside an open session of this backend."""

    def close(self) -> None:  # noqa: B027 - backends without pooled resources need nothing
        """Release pooled resources (nothing to do for the embedded backend)."""

    def _is_disconnect(self, exc: BaseException) -> bool:
        """Whether ``exc`` means the server went away (the operation may simply be redone)."""
        return False

    def _once_more_after_disconnect(self, operation: Callable[[], T]) -> T:
        """Run an idempotent one-shot operation; after a dropped connection (a server
        restart), reconnect and run it once more."""
        try:
            return operation()
        except Exception as exc:
            if not self._is_disconnect(exc):
                raise
            log.warning("warehouse connection lost (%s); reconnecting", exc)
            self.close()
            return operation()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        def run() -> None:
            with self.session() as s:
                s.execute(sql, params)

        self._once_more_after_disconnect(run)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        def run() -> list[tuple[Any, ...]]:
            with self.session() as s:
                result: list[tuple[Any, ...]] = s.query(sql, params)
                return result

        return self._once_more_after_disconnect(run)

    @abstractmethod
    def query_frame(self, sql: str, params: Sequence[Any] = ()) -> pl.DataFrame: ...

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def count(self, table: str) -> int:
        key_of(table)  # only known tables: the name goes into SQL
        return int(self.scalar(f"SELECT COUNT(*) FROM {table}"))

    def upsert(
        self,
        table: str,
        rows: Rows,
        *,
        update: bool = False,
        session: Any = None,
        unique_keys: bool = False,
    ) -> int:
        """Insert rows; rows whose key exists are skipped (or updated when ``update``).

        Returns how many rows were written. Re-inserting the same rows writes none. Pass an
        open ``session`` to write several tables in one transaction, and ``unique_keys`` when
        the caller guarantees no two rows share a key (skips deduplicating the batch).
        """
        data = rows_to_arrow(rows)
        if data.num_rows == 0:
            return 0
        missing = [c for c in key_of(table) if c not in data.column_names]
        if missing:
            raise WarehouseError(f"rows for {table} lack key columns {missing}")
        if not unique_keys:
            data = dedupe_on_key(data, key_of(table))
        if session is not None:
            return self._upsert_in(session, table, data, update)

        def run() -> int:  # idempotent: keys make a redo write nothing twice
            with self.session() as own:
                return self._upsert_in(own, table, data, update)

        return self._once_more_after_disconnect(run)

    def migrate(self) -> list[int]:
        """Apply the migrations not yet applied, each in its own transaction. Idempotent."""
        applied_now: list[int] = []
        with self.session() as s:
            s.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
            )
        for version, name, sql in migrations():
            with self.session() as s:
                self._lock_migrations(s)
                done = s.query("SELECT 1 FROM schema_migrations WHERE version = ?", (version,))
                if done:
                    continue
                for statement in split_statements(sql):
                    s.execute(statement)
                s.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, datetime.now(UTC)),
                )
                applied_now.append(version)
                log.info("applied migration %04d_%s to %s", version, name, self.dialect)
        return applied_now

    def _lock_migrations(self, session: Session) -> None:  # noqa: B027 - DuckDB's file lock suffices
        """Serialize concurrent migrators (PostgreSQL overrides this)."""

    def applied_migrations(self) -> list[int]:
        return [int(r[0]) for r in self.query("SELECT version FROM schema_migrations ORDER BY 1")]


class _DuckSession:
    def __init__(self, con: Any) -> None:
        self.con = con

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.con.execute(sql, list(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self.con.execute(sql, list(params)).fetchall()
        return rows


_GATES: dict[str, threading.RLock] = {}
_GATES_LOCK = threading.Lock()


class DuckDBWarehouse(Warehouse):
    dialect = "duckdb"

    def __init__(self, url: str, path: Path, lock_timeout_s: float = 60.0) -> None:
        super().__init__(url)
        self.path = path
        self.lock_timeout_s = lock_timeout_s
        path.parent.mkdir(parents=True, exist_ok=True)
        # Every warehouse object of this process on the same file takes turns: DuckDB shares
        # one database instance per file within a process.
        with _GATES_LOCK:
            self._gate = _GATES.setdefault(str(path.resolve()), threading.RLock())

    def _open(self) -> Any:
        import duckdb

        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.005
        while True:
            try:
                con = duckdb.connect(str(self.path))
                con.execute("SET TimeZone = 'UTC'")
                return con
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise WarehouseError(f"cannot open {self.path}: {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.25)

    @contextmanager
    def session(self) -> Iterator[_DuckSession]:
        with self._gate:
            con = self._open()
            try:
                con.execute("BEGIN TRANSACTION")
                yield _DuckSession(con)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            finally:
                con.close()

    def query_frame(self, sql: str, params: Sequence[Any] = ()) -> pl.DataFrame:
        with self.session() as s:
            frame = pl.from_arrow(s.con.sql(sql, params=list(params) or None).to_arrow_table())
        assert isinstance(frame, pl.DataFrame)
        return frame

    def _upsert_in(self, session: Any, table: str, data: pa.Table, update: bool) -> int:
        session.con.register("_incoming", data)
        try:
            result = session.con.execute(upsert_sql(table, data.column_names, "_incoming", update))
            written = result.fetchone()
        finally:
            session.con.unregister("_incoming")
        return int(written[0]) if written else 0


class _PgSession:
    def __init__(self, con: Any) -> None:
        self.con = con

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.con.cursor() as cur:
            cur.execute(self._sql(sql), list(params) if params else None)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.con.cursor() as cur:
            cur.execute(self._sql(sql), list(params) if params else None)
            return list(cur.fetchall())


class PostgresWarehouse(Warehouse):
    dialect = "postgres"

    def __init__(self, url: str, schema: str | None = None, connect_timeout_s: float = 30.0):
        super().__init__(url)
        if schema is not None and not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
            raise WarehouseError(f"invalid PostgreSQL schema name {schema!r}")
        self.schema = schema
        self.connect_timeout_s = connect_timeout_s
        self._local = threading.local()

    def _connection(self) -> Any:
        import psycopg

        con = getattr(self._local, "con", None)
        if con is not None and not con.closed and not con.broken:
            return con
        deadline = time.monotonic() + self.connect_timeout_s
        delay = 0.1
        while True:  # survive a server restart: reconnect until the deadline
            try:
                con = psycopg.connect(self.url, autocommit=True, options="-c timezone=UTC")
                if self.schema:
                    con.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
                    con.execute(f"SET search_path TO {self.schema}")
                con.autocommit = False
                self._local.con = con
                return con
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise WarehouseError(f"cannot connect to PostgreSQL: {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    @contextmanager
    def session(self) -> Iterator[_PgSession]:
        con = self._connection()
        try:
            yield _PgSession(con)
            con.commit()
        except BaseException:
            if not con.closed:
                con.rollback()
            raise

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    def _lock_migrations(self, session: Session) -> None:
        session.execute("SELECT pg_advisory_xact_lock(4201)")

    def _is_disconnect(self, exc: BaseException) -> bool:
        import psycopg

        con = getattr(self._local, "con", None)
        return isinstance(exc, psycopg.OperationalError) and (
            con is None or con.closed or con.broken
        )

    def query_frame(self, sql: str, params: Sequence[Any] = ()) -> pl.DataFrame:
        with self.session() as s, s.con.cursor() as cur:
            cur.execute(s._sql(sql), list(params) if params else None)
            names = [d.name for d in cur.description or []]
            rows = cur.fetchall()
        return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)

    def _upsert_in(self, session: Any, table: str, data: pa.Table, update: bool) -> int:
        columns = data.column_names
        cols = ", ".join(columns)
        with session.con.cursor() as cur:
            cur.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS _incoming_{table} "
                f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            with cur.copy(f"COPY _incoming_{table} ({cols}) FROM STDIN") as copy:
                for batch in data.to_batches(max_chunksize=10_000):
                    for row in zip(*(col.to_pylist() for col in batch.columns), strict=True):
                        copy.write_row(row)
            cur.execute(upsert_sql(table, columns, f"_incoming_{table}", update))
            return int(cur.rowcount)


def open_warehouse(url: str) -> Warehouse:
    """``duckdb:///abs/path.duckdb`` (embedded) or ``postgresql://user@host:port/db``.

    A PostgreSQL URL may end in ``?schema=NAME`` to keep the tables in their own schema.
    """
    if url.startswith("duckdb:///"):
        return DuckDBWarehouse(url, Path(url.removeprefix("duckdb://")))
    if url.startswith(("postgresql://", "postgres://")):
        base, _, query = url.partition("?schema=")
        return PostgresWarehouse(base, schema=query or None)
    raise WarehouseError(
        f"unsupported warehouse URL {url!r}: use duckdb:///path/file.duckdb or postgresql://..."
    )
