"""The append-only journal of streamed messages.

Every raw message goes here first, before anything is derived from it. Files are segments
written by exactly one process (its pid is in the name), so no lock is ever shared: readers
never block the writer and the writer never blocks asset runs.

Record layout (little endian)::

    magic u16 | payload length u32 | crc32(payload) u32 | payload
    payload = received_at_ns u64 | connection_id u64 | sid i32 | seq i64 | raw message bytes

Each ``flush()`` hands the buffered records to the kernel in one ``write``: a process killed
with SIGKILL loses at most its unflushed tail, and a reader stops cleanly at a torn record.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

MAGIC = 0x5745  # "WE"
_FRAME = struct.Struct("<HII")
_META = struct.Struct("<QQiq")
SEGMENT_SUFFIX = ".wej"
NO_SID = -1
NO_SEQ = -1


class JournalCorruptError(RuntimeError):
    """A damaged record that is followed by more data (not just a torn tail)."""


@dataclass(frozen=True, slots=True)
class JournalRecord:
    segment: str
    offset: int
    next_offset: int
    received_ns: int
    connection_id: int
    sid: int
    seq: int
    raw: bytes

    @property
    def received_at(self) -> datetime:
        return datetime.fromtimestamp(self.received_ns / 1e9, tz=UTC)

    @property
    def position(self) -> str:
        """A stable identity for the record: where it sits in the journal."""
        return f"{self.segment}@{self.offset}"


def encode_record(raw: bytes, received_ns: int, connection_id: int, sid: int, seq: int) -> bytes:
    payload = _META.pack(received_ns, connection_id, sid, seq) + raw
    return _FRAME.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


class JournalWriter:
    """Appends records to this process's own segment files under ``directory``."""

    def __init__(
        self,
        directory: str | Path,
        *,
        segment_max_bytes: int = 256 * 1024 * 1024,
        flush_every: int = 512,
        fsync: bool = False,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.segment_max_bytes = segment_max_bytes
        self.flush_every = flush_every
        self.fsync = fsync
        self._buffer = bytearray()
        self._pending = 0
        self._fd: int | None = None
        self._segment = ""
        self._size = 0
        self._counter = 0
        self.records_written = 0

    @property
    def segment(self) -> str:
        return self._segment

    def _open_segment(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._counter += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self._segment = f"seg-{stamp}-{os.getpid()}-{self._counter:04d}{SEGMENT_SUFFIX}"
        path = self.directory / self._segment
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o644)
        self._size = 0

    def append(
        self,
        raw: bytes,
        *,
        received_ns: int,
        connection_id: int = 0,
        sid: int = NO_SID,
        seq: int = NO_SEQ,
    ) -> None:
        self._buffer += encode_record(raw, received_ns, connection_id, sid, seq)
        self._pending += 1
        if self._pending >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Hand buffered records to the kernel (they survive a SIGKILL from here on)."""
        if not self._buffer:
            return
        if self._fd is None or self._size + len(self._buffer) > self.segment_max_bytes:
            self._open_segment()
        assert self._fd is not None
        with memoryview(self._buffer) as whole:
            view = whole
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            view.release()
        if self.fsync:
            os.fsync(self._fd)
        self._size += len(self._buffer)
        self.records_written += self._pending
        self._buffer.clear()
        self._pending = 0

    def close(self) -> None:
        self.flush()
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_segment(path: Path, start: int = 0) -> Iterator[JournalRecord]:
    """Records of one segment from byte ``start``; stops quietly at a torn tail.

    Reads only from ``start`` on, so a follower polling a growing segment costs what is new.
    """
    with path.open("rb") as f:
        f.seek(start)
        data = f.read()
    name = path.name
    pos = 0
    end = len(data)
    while pos + _FRAME.size <= end:
        magic, length, crc = _FRAME.unpack_from(data, pos)
        body = pos + _FRAME.size
        if magic != MAGIC or body + length > end or zlib.crc32(data[body : body + length]) != crc:
            if magic == MAGIC and body + length > end:
                return  # torn tail: the writer died (or is) mid-write
            if _has_valid_record_after(data, pos + 1):
                raise JournalCorruptError(f"{path}: damaged record at byte {start + pos}")
            return
        received_ns, connection_id, sid, seq = _META.unpack_from(data, body)
        raw = data[body + _META.size : body + length]
        next_pos = body + length
        yield JournalRecord(
            name, start + pos, start + next_pos, received_ns, connection_id, sid, seq, raw
        )
        pos = next_pos


def _has_valid_record_after(data: bytes, start: int) -> bool:
    magic_bytes = struct.pack("<H", MAGIC)
    pos = data.find(magic_bytes, start)
    while pos != -1 and pos + _FRAME.size <= len(data):
        _, length, crc = _FRAME.unpack_from(data, pos)
        body = pos + _FRAME.size
        if body + length <= len(data) and zlib.crc32(data[body : body + length]) == crc:
            return True
        pos = data.find(magic_bytes, pos + 1)
    return False


def segments(directory: str | Path) -> list[Path]:
    """Segment files in write order (their names sort by creation time)."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"*{SEGMENT_SUFFIX}"))


def read_journal(
    directory: str | Path, after: Mapping[str, int] | None = None
) -> Iterator[JournalRecord]:
    """Every record in the journal, skipping what ``after`` (segment -> offset) says was read."""
    done = after or {}
    for path in segments(directory):
        yield from read_segment(path, done.get(path.name, 0))
