"""MMSB, the Memory-Mapped State Bus, from Python.

The writer (``mmsb.open``) runs the Go bus in this process through the C
ABI (libmmsb.so, see docs/bindings.md); readers without Go live in the
reader module.
"""

from .errors import *  # noqa: F401,F403
from .errors import MMSBError, PageNotFound  # noqa: F401
from .writer import ANY_EPOCH, Bus, CommitInfo, open  # noqa: F401,A001
