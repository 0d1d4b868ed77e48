"""Which buffers hold Python objects: one rule for the reader and the writer.

A buffer whose items are PyObject pointers (a numpy array of dtype object,
a structured array with an object field, a ctypes array of py_object) must
never receive page bytes (read_into overwrote the pointers, and the next
use of an item crashed the interpreter) nor give its bytes to a page
(commit wrote this process's addresses). Searching the struct format for
"O" also matched a field name ("T{l:Out:d:x:}"), refusing plain data.
And the format does not tell all: ctypes exports a union, a packed
structure (_pack_) and a structure holding either as plain bytes ("B"),
whatever py_object fields they hold, so ctypes buffers answer through
their type.
"""

import ctypes

import numpy as np

# The base of every ctypes type (scalars, pointers, arrays, structures,
# unions): an isinstance on it keeps plain buffers off the type walk.
_CDATA = ctypes.Array.__mro__[1]


def format_holds_objects(fmt):
    """Whether the buffer format fmt (PEP 3118, as memoryview.format gives
    it) has an object item ("O") anywhere, field names (":name:") aside."""
    if "O" not in fmt:  # nearly every buffer: no loop in Python
        return False
    i, n = 0, len(fmt)
    while i < n:
        c = fmt[i]
        if c == ":":  # a field name runs to the next colon
            end = fmt.find(":", i + 1)
            if end < 0:
                return False
            i = end + 1
            continue
        if c == "O":
            return True
        i += 1
    return False


def _ctype_holds_objects(tp):
    """Whether the ctypes type tp has a py_object anywhere: itself, its
    items (an array) or its fields (a structure or union, nested)."""
    if not isinstance(tp, type):
        return False
    if getattr(tp, "_type_", None) == "O":  # py_object and its subclasses
        return True
    if issubclass(tp, ctypes.Array):
        return _ctype_holds_objects(tp._type_)
    if issubclass(tp, (ctypes.Structure, ctypes.Union)):
        return any(_ctype_holds_objects(f[1]) for f in getattr(tp, "_fields_", ()))
    return False


def holds_objects(obj, mv):
    """Whether obj, whose buffer mv exports, holds Python objects. obj
    and mv's exporter (a memoryview's underlying object) answer through
    their numpy dtype (exact for every nesting) or ctypes type; any other
    buffer through its format."""
    for o in (obj, mv.obj):
        if isinstance(o, np.ndarray):
            if o.dtype.hasobject:
                return True
        elif isinstance(o, _CDATA) and _ctype_holds_objects(type(o)):
            return True
    return format_holds_objects(mv.format)


def buffer_kind(obj, mv):
    """obj's type and item kind for an error message: "ndarray of dtype
    object", "c_py_object_Array_4 of format '<O'"."""
    if isinstance(obj, np.ndarray):
        return "%s of dtype %s" % (type(obj).__name__, obj.dtype)
    return "%s of format %r" % (type(obj).__name__, mv.format)
