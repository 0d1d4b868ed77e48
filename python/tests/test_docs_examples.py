"""The Python examples of docs/bindings.md run as written.

Each test takes the first ```python block under its heading, runs it in a
child /usr/bin/python3 (the interpreter running pytest) with python/ on
the path, and requires exit status 0: an example naming a variable it
never defines, or calling the API in a way it refuses, fails here. Only the
bus directory is changed where it is not relative (a reader's "/data/bus"
is replaced by a live test writer's directory and its shared_dir).
"""

import os
import subprocess
import sys

from conftest import PYDIR, REPO

DOC = os.path.join(REPO, "docs", "bindings.md")


def doc_example(heading):
    """The text of the first ```python block after the line heading."""
    with open(DOC, encoding="utf-8") as f:
        lines = f.read().split("\n")
    start = lines.index(heading)  # ValueError: the heading was renamed
    i = start + 1
    while lines[i].strip() != "```python":
        assert not lines[i].startswith("#"), "no ```python block under %r in %s" % (heading, DOC)
        i += 1
    end = lines.index("```", i + 1)
    return "\n".join(lines[i + 1:end]) + "\n"


def run_example(code, cwd, env=None):
    e = dict(os.environ)
    e.update(env or {})
    e["PYTHONPATH"] = PYDIR + os.pathsep + e.get("PYTHONPATH", "")
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    p = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=e, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "docs/bindings.md example exited %d:\n%s\n--- stderr:\n%s" % (
        p.returncode, code, p.stderr)
    return p.stdout


def test_reader_example_in_docs_runs(start_writer, tmp_path):
    # tick: a commit every millisecond, so the example's wait(timeout=1.0)
    # returns, and each is brief, so its apply() is rarely retried (a busy
    # writer rewriting the page without pause could make it ReadBusy on a
    # loaded machine); 8 pages of 1 KiB: ids[:4] and a float64 view of 16
    # items exist.
    w = start_writer(mode="tick", pages=8, size=1024)
    code = doc_example("### Python")
    call = 'mmsb.Reader("/data/bus")'
    assert code.count(call) == 1, "the reader example no longer opens %s" % call
    code = code.replace(call, "mmsb.Reader(%r, shared_dir=%r)" % (w.bus_dir, w.shm))
    out = run_example(code, str(tmp_path))
    lsn, epoch = out.split()  # print(snap.lsn, snap.pages[ids[0]].epoch)
    assert int(lsn) >= w.lsn and int(epoch) >= 1


def test_writer_example_in_docs_runs(libmmsb, tmp_path):
    # Its bus directory, "./data", is relative: the child runs in tmp_path.
    run_example(doc_example("### Python writer"), str(tmp_path), {"MMSB_LIB": libmmsb})
    assert os.path.isdir(tmp_path / "data")
