"""The journal keeps everything flushed, in order, even when its writer is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from weather_edge.storage.journal import (
    JournalCorruptError,
    JournalWriter,
    read_journal,
    segments,
)

WRITER = """
import sys, time
from weather_edge.storage.journal import JournalWriter
w = JournalWriter(sys.argv[1], flush_every=7)
i = 0
while True:
    w.append(b'{"n": %d, "pad": "%s"}' % (i, b"x" * (i % 50)), received_ns=time.time_ns(),
             connection_id=42, sid=3, seq=i)
    if i % 7 == 6:
        # after each flush, report how many records the kernel holds
        print(i + 1, flush=True)
    i += 1
"""


def test_sigkill_mid_stream_loses_nothing_that_was_flushed(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    flushed = 0
    deadline = time.monotonic() + 30
    while flushed < 20_000 and time.monotonic() < deadline:
        flushed = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert flushed >= 20_000, "the writer was too slow to start"

    records = list(read_journal(tmp_path))
    assert len(records) >= flushed
    assert [r.seq for r in records] == list(range(len(records)))
    for r in records:
        assert r.raw == b'{"n": %d, "pad": "%s"}' % (r.seq, b"x" * (r.seq % 50))
        assert (r.connection_id, r.sid) == (42, 3)


def test_a_torn_tail_is_ignored_and_resumption_skips_what_was_read(tmp_path: Path) -> None:
    with JournalWriter(tmp_path) as w:
        for i in range(10):
            w.append(b"msg%d" % i, received_ns=i, seq=i)
    [segment] = segments(tmp_path)
    with segment.open("ab") as f:
        f.write(b"\x45\x57\xff\x00\x00\x00partial")  # a record cut short by a crash
    records = list(read_journal(tmp_path))
    assert [r.raw for r in records] == [b"msg%d" % i for i in range(10)]
    resumed = list(read_journal(tmp_path, {segment.name: records[4].next_offset}))
    assert [r.seq for r in resumed] == [5, 6, 7, 8, 9]


def test_damage_in_the_middle_is_reported_not_skipped(tmp_path: Path) -> None:
    with JournalWriter(tmp_path) as w:
        for i in range(10):
            w.append(b"message number %d" % i, received_ns=i, seq=i)
    [segment] = segments(tmp_path)
    data = bytearray(segment.read_bytes())
    data[40] ^= 0xFF  # flip a byte inside the second record
    segment.write_bytes(bytes(data))
    with pytest.raises(JournalCorruptError, match="damaged record"):
        list(read_journal(tmp_path))


def test_a_reader_sees_records_while_the_writer_keeps_writing(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, flush_every=1)
    writer.append(b"first", received_ns=1)
    assert [r.raw for r in read_journal(tmp_path)] == [b"first"]
    writer.append(b"second", received_ns=2)
    assert [r.raw for r in read_journal(tmp_path)] == [b"first", b"second"]
    writer.close()


def test_segments_roll_over_at_the_size_limit(tmp_path: Path) -> None:
    with JournalWriter(tmp_path, segment_max_bytes=2_000, flush_every=5) as w:
        for i in range(200):
            w.append(b"x" * 30, received_ns=i, seq=i)
    assert len(segments(tmp_path)) > 5
    assert [r.seq for r in read_journal(tmp_path)] == list(range(200))
