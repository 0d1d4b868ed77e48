"""Shared fixtures of the mmsb Python tests."""

import os
import shutil
import subprocess

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.fixture(scope="session")
def mmsb_cli(tmp_path_factory):
    """The path of the Go CLI `mmsb`: $MMSB_CLI, else built with go into a temp dir."""
    cli = os.environ.get("MMSB_CLI")
    if cli:
        return cli
    go = shutil.which("go")
    if go is None:
        pytest.skip("the mmsb CLI is needed: set MMSB_CLI or put go on PATH")
    out = str(tmp_path_factory.mktemp("cli") / "mmsb")
    subprocess.run([go, "build", "-o", out, "./cmd/mmsb"], cwd=REPO, check=True)
    return out
