"""Shared fixtures of the mmsb Python tests."""

import os
import shutil
import subprocess

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _go():
    return shutil.which("go") or ("/usr/local/go/bin/go" if os.path.exists("/usr/local/go/bin/go") else None)


def _missing(what):
    if os.environ.get("MMSB_REQUIRE_EXTERNAL") == "1":
        pytest.fail("%s is required (MMSB_REQUIRE_EXTERNAL=1)" % what)
    pytest.skip("%s not available" % what)


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
                _missing("go and gcc (to build libmmsb.so; or set MMSB_LIB)")
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
        _missing("go (to build the mmsb CLI; or set MMSB_CLI)")
    out = str(tmp_path_factory.mktemp("cli") / "mmsb")
    subprocess.run([go, "build", "-o", out, "./cmd/mmsb"], cwd=REPO, check=True)
    return out
