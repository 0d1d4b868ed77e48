"""Fixtures of the mmsb Python tests: a Go test writer (internal/cmd/shmwriter)
and a private tmpfs directory for shared regions.

The writer binary comes from $MMSB_SHMWRITER (the Go test that runs pytest
builds it), else it is built here with `go build`. Without Go the tests
that need a writer skip, naming the program, unless MMSB_REQUIRE_EXTERNAL=1
(CI), where they fail.
"""

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
REPO = os.path.dirname(PYDIR)
sys.path.insert(0, PYDIR)


def _need(what):
    """Skip the running test for want of what (a program, root, an OS
    facility), or fail it under MMSB_REQUIRE_EXTERNAL=1 (CI), so that CI
    cannot pass by skipping."""
    if os.environ.get("MMSB_REQUIRE_EXTERNAL") == "1":
        pytest.fail("%s is required (MMSB_REQUIRE_EXTERNAL=1)" % what)
    pytest.skip("%s not available" % what)


@pytest.fixture(scope="session")
def writer_bin(tmp_path_factory):
    path = os.environ.get("MMSB_SHMWRITER")
    if path:
        return path
    go = shutil.which("go") or ("/usr/local/go/bin/go" if os.path.exists("/usr/local/go/bin/go") else None)
    if go is None:
        _need("go (to build internal/cmd/shmwriter; or set MMSB_SHMWRITER)")
    out = str(tmp_path_factory.mktemp("bin") / "shmwriter")
    subprocess.run([go, "build", "-o", out, "./internal/cmd/shmwriter"], cwd=REPO, check=True)
    return out


@pytest.fixture
def shm_dir():
    """A fresh directory on tmpfs ($MMSB_TEST_SHM or /dev/shm) for regions."""
    base = os.environ.get("MMSB_TEST_SHM") or ("/dev/shm" if os.path.isdir("/dev/shm") else None)
    d = tempfile.mkdtemp(prefix="mmsb-pytest-", dir=base)
    yield d
    shutil.rmtree(d, ignore_errors=True)


class Writer:
    """A running shmwriter process."""

    def __init__(self, binary, bus_dir, shm, mode="busy", pages=64, size=1024, churn=False):
        args = [binary, "-dir", bus_dir, "-shm", shm, "-mode", mode, "-pages", str(pages),
                "-size", str(size), "-stdin"]
        if churn:
            args.append("-churn")
        self.bus_dir, self.shm = bus_dir, shm
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.proc.kill()
            raise RuntimeError("shmwriter did not start: %r" % line)
        kv = dict(f.split("=", 1) for f in line.split()[1:])
        self.pid, self.region = int(kv["pid"]), kv["region"]
        self.first, self.pages, self.lsn = int(kv["first"]), int(kv["pages"]), int(kv["lsn"])
        self.ids = list(range(self.first, self.first + self.pages))

    def grow(self):
        """Ask a static writer to create more pages; returns (pages, lsn)."""
        self.proc.stdin.write("grow\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line.startswith("GROWN"):
            raise RuntimeError("shmwriter did not grow: %r" % line)
        kv = dict(f.split("=", 1) for f in line.split()[1:])
        return int(kv["pages"]), int(kv["lsn"])

    def stop(self):
        """Close stdin: the writer closes the bus and exits; returns DONE's line."""
        if self.proc.poll() is None:
            self.proc.stdin.close()
        out = self.proc.stdout.read()
        self.proc.wait(timeout=30)
        assert self.proc.returncode == 0, out
        return out

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.proc.stdin.close()


@pytest.fixture
def start_writer(writer_bin, shm_dir, tmp_path):
    procs = []

    def start(mode="busy", pages=64, size=1024, churn=False, bus_dir=None):
        w = Writer(writer_bin, bus_dir or str(tmp_path / "bus"), shm_dir, mode, pages, size, churn)
        procs.append(w)
        return w

    yield start
    for w in procs:
        if w.proc.poll() is None:
            w.kill()


# Fixtures of the writer tests (test_writer.py, over libmmsb.so).


def _go():
    return shutil.which("go") or ("/usr/local/go/bin/go" if os.path.exists("/usr/local/go/bin/go") else None)


@pytest.fixture(scope="session")
def libmmsb(tmp_path_factory):
    """The path of libmmsb.so, exported as MMSB_LIB: $MMSB_LIB, else build/libmmsb.so,
    else built here with `go build -buildmode=c-shared` into a temp dir."""
    path = os.environ.get("MMSB_LIB")
    if not path:
        built = os.path.join(REPO, "build", "libmmsb.so")
        if os.path.exists(built):
            path = built
        else:
            go = _go()
            if go is None:
                _need("go and gcc (to build libmmsb.so; or set MMSB_LIB)")
            path = str(tmp_path_factory.mktemp("lib") / "libmmsb.so")
            subprocess.run([go, "build", "-buildmode=c-shared", "-o", path, "./bindings/c"], cwd=REPO, check=True)
        os.environ["MMSB_LIB"] = path
    return path


@pytest.fixture(scope="session")
def mmsb_cli(tmp_path_factory):
    """The path of the Go CLI `mmsb`: $MMSB_CLI, else built with go into a temp dir."""
    cli = os.environ.get("MMSB_CLI")
    if cli:
        return cli
    go = _go()
    if go is None:
        _need("go (to build the mmsb CLI; or set MMSB_CLI)")
    out = str(tmp_path_factory.mktemp("cli") / "mmsb")
    subprocess.run([go, "build", "-o", out, "./cmd/mmsb"], cwd=REPO, check=True)
    return out
