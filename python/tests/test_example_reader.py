"""examples/python-reader/reader.py's follow loop against a stand-in
reader, for what a live writer only does by chance (leaving between two
calls of one loop turn)."""

import collections
import importlib.util
import os

import pytest

import mmsb
from conftest import REPO

EXAMPLE = os.path.join(REPO, "examples", "python-reader", "reader.py")


def load_example():
    spec = importlib.util.spec_from_file_location("python_reader_example", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # main() runs only as __main__
    return mod


class GoneAfterWait:
    """A reader whose writer closes the bus right after wait() returned:
    the call named by gone_in raises WriterGone, as the real reader does."""

    generation, writer_pid, last_lsn = 7, 4242, 10

    def __init__(self, gone_in):
        self.gone_in = gone_in

    def pages(self):
        return [1, 2]

    def wait(self, lsn, timeout=None):
        if self.gone_in == "wait":
            raise mmsb.WriterGone("writer 4242 closed the bus")
        return lsn + 1

    def apply(self, pid, fn, dtype=None):
        if self.gone_in == "apply":
            raise mmsb.WriterGone("writer 4242 closed the bus")
        return 0.0

    def snapshot(self, ids):
        raise mmsb.WriterGone("writer 4242 closed the bus")


@pytest.mark.parametrize("gone_in", ["wait", "apply", "snapshot"])
def test_example_reader_reports_writer_gone_wherever_it_left(gone_in, capsys):
    """The writer leaving is "reader: writer gone" and a normal end of
    follow (exit status 0), wherever in the loop the reader noticed it;
    noticed in apply or snapshot it escaped to main, which exited with
    status 1 and another message. wait is the control (handled before)."""
    ex = load_example()
    ex.follow(GoneAfterWait(gone_in), 0)
    out = capsys.readouterr().out
    assert "reader: writer gone: writer 4242 closed the bus" in out


class BusyOnce:
    """A reader whose first snapshot (or apply) finds the pages busy, as a
    writer committing faster than the reader copies makes it."""

    generation, writer_pid, last_lsn = 7, 4242, 10

    def __init__(self, busy_in):
        self.busy_in, self.calls = busy_in, 0

    def pages(self):
        return [1, 2]

    def wait(self, lsn, timeout=None):
        return lsn + 1

    def apply(self, pid, fn, dtype=None):
        if self.busy_in == "apply" and self.calls == 0:
            self.calls += 1
            raise mmsb.ReadBusy("page 1 changed under every read for 1s")
        return 0.0

    def snapshot(self, ids):
        if self.busy_in == "snapshot" and self.calls == 0:
            self.calls += 1
            raise mmsb.SnapshotBusy("100 attempts over 2 pages")
        page = collections.namedtuple("Page", "data")(bytes(24))
        return collections.namedtuple("Snapshot", "lsn pages")(12, {1: page, 2: page})


@pytest.mark.parametrize("busy_in", ["snapshot", "apply"])
def test_example_reader_retries_a_busy_snapshot(busy_in, capsys):
    """SnapshotBusy or ReadBusy (pages rewritten faster than the reader
    copies them) is a line saying so and a retry at the next commit; it
    escaped follow, and main ended the reader with status 1."""
    ex = load_example()
    ex.follow(BusyOnce(busy_in), 1)
    out = capsys.readouterr().out
    assert "reader: busy after lsn 11" in out and "retrying at the next commit" in out
    assert "lsn     12" in out
