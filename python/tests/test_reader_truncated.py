"""A region file truncated while the Python reader maps it (only the
region's owner or root can: the writer never shrinks a file). A load past
the file's new end is a SIGBUS, which killed the interpreter; every call
that loads mapped memory now checks first that no mapped file shrank and
raises FormatError naming the file, and keeps raising it (the Go reader's
TestReaderTruncatedChunk, the C reader's TestCReaderTruncatedWhileMapped).
Each case runs in a child interpreter so that a SIGBUS fails the case
instead of killing pytest."""

import os
import signal
import subprocess
import sys

import pytest

from mmsb import _layout as L

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)

CHILD = r"""
import os, sys
sys.path[:0] = [%(pydir)r, %(here)r]
import mmsb
import mmsb.reader
from mmsb import _layout as L
from fakeregion import FakeRegion

path, name, mode = sys.argv[1:4]
if mode == "stat":
    mmsb.reader._inotify_init = lambda: None  # no inotify: the reader stats the files
fr = FakeRegion(path, pages=2)
r = mmsb.Reader(region=fr.path)
ifd = getattr(r, "_ifd", "no guard")  # a reader without the guard (the control) reads on
assert ifd == "no guard" or (ifd is None) == (mode == "stat"), ifd
before = r.read(1)  # maps page 1's chunk
v = r.view(1)
if mode == "fork":
    pid = os.fork()
    if pid:
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            os.kill(os.getpid(), os.WTERMSIG(status))
        sys.exit(os.WEXITSTATUS(status))
os.truncate(os.path.join(fr.path, name), 0)
calls = [
    ("read", lambda: r.read(1)),
    ("read_page", lambda: r.read_page(1)),
    ("read_into", lambda: r.read_into(1, bytearray(len(before)))),
    ("view", lambda: r.view(1)),
    ("apply", lambda: r.apply(1, lambda a: int(a[0]))),
    ("pages", lambda: r.pages()),
    ("snapshot", lambda: r.snapshot([1])),
    ("last_lsn", lambda: r.last_lsn),
    ("state", lambda: r.state),
    ("header", lambda: r.header()),
    ("alive", lambda: r.alive()),
    ("wait", lambda: r.wait(0, timeout=0)),
    ("valid", lambda: v.valid()),
]
for what, call in calls:
    sys.stdout.flush()
    try:
        call()
    except mmsb.FormatError as e:
        print("%%s FormatError %%s" %% (what, e))
    else:
        print("%%s returned" %% what)
r.close()
print("closed")
""" % {"pydir": PYDIR, "here": HERE}

FILES = [L.chunk_file_name(0, 1), L.SEQ_FILE, L.IDS_FILE, L.CELLS_FILE, L.VERS_FILE,
         L.HEADER_FILE, L.CHUNK_TABLE_FILE]


@pytest.mark.parametrize("mode", ["inotify", "stat", "fork"])
@pytest.mark.parametrize("name", FILES)
def test_file_truncated_while_mapped(tmp_path, name, mode):
    """Truncated to 0 after the reader mapped it: every call (reads,
    views, pages, snapshot, the header's words, wait, a PageView's valid)
    raises FormatError "shrank while mapped" naming the file, and close
    works. With inotify (one ioctl per call), without it (stat of each
    file), and in a fork child using an inherited reader (the inotify
    queue is the parent's: the child stats)."""
    p = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "r"), name, mode],
                       capture_output=True, text=True, timeout=120)
    if p.returncode < 0:
        pytest.fail("the reader died of %s after the truncation of %s (%s); stdout: %r stderr: %r"
                    % (signal.Signals(-p.returncode).name, name, mode, p.stdout, p.stderr[-500:]))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[-1] == "closed", p.stdout
    assert len(lines) == 14, p.stdout
    for line in lines[:-1]:
        assert " FormatError " in line and "shrank while mapped: %s is 0 bytes" % name in line, line


def test_growth_is_not_a_truncation(tmp_path):
    """A file that grows (the writer extends the slot arrays) sends the
    same inotify event as a truncation: the reader stats the files, finds
    none shorter than its mapping, and reads on (the check cannot fail
    every modified file)."""
    from fakeregion import FakeRegion
    import mmsb
    fr = FakeRegion(str(tmp_path / "r"), pages=2)
    with mmsb.Reader(region=fr.path) as r:
        assert r._ifd is not None
        first = r.read(1)
        n = os.stat(os.path.join(fr.path, L.SEQ_FILE)).st_size
        os.truncate(os.path.join(fr.path, L.SEQ_FILE), 2 * n)
        assert r.read(1) == first
        assert r.pages() == [1, 2]
    fr.close()
