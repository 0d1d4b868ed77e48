"""examples/python-reader/reader.py's follow loop against a stand-in
reader, for what a live writer only does by chance (leaving between two
calls of one loop turn)."""

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
