"""What crosses from the student's process to the grader: length-prefixed JSON frames.

Never pickle: unpickling data from a process that ran untrusted code would run that code in
the grader. NumPy arrays (and torch tensors, converted) travel as dtype, shape and base64
bytes; anything else a probe returns must be a number, bool, string, None, list or dict.
A student's object that merely pretends to be a number or an array (a subclass with its own
`__eq__`, say) is flattened to plain data here, so it cannot fool a comparison later.
"""
from __future__ import annotations

import base64
import json
import math
import struct

from autograder.probe import Failed

MAX_FRAME = 64 * 1024 * 1024
_ALLOWED_KINDS = set("biufc")  # bool, int, uint, float, complex


class WireError(Exception):
    pass


def encode_value(value, depth=0):
    import numpy as np

    if depth > 20:
        raise WireError("data nested too deeply")
    if value is None or type(value) in (bool, str):
        return value if not isinstance(value, str) else value[:10000]
    if isinstance(value, Failed):
        return {"__failed__": str(value.message)[:2000]}
    if isinstance(value, bool) or isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, dict):
        return {str(k): encode_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_value(v, depth + 1) for v in value]
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind not in _ALLOWED_KINDS:
        raise WireError(f"cannot send a value of type {type(value).__name__}")
    array = np.ascontiguousarray(array).reshape(array.shape).view(np.ndarray)  # ascontiguousarray makes 0-d arrays 1-d
    return {"__nd__": [array.dtype.str, list(array.shape), base64.b64encode(array.tobytes()).decode()]}


def decode_value(value):
    import numpy as np

    if isinstance(value, dict):
        if set(value) == {"__nd__"}:
            dtype, shape, data = value["__nd__"]
            dt = np.dtype(dtype)
            if dt.kind not in _ALLOWED_KINDS:
                raise WireError("bad array dtype")
            return np.frombuffer(base64.b64decode(data), dtype=dt).reshape(shape).copy()
        if set(value) == {"__failed__"}:
            return Failed(str(value["__failed__"]))
        return {k: decode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def write_frame(fd: int, message: dict) -> None:
    import os

    data = json.dumps(message, allow_nan=True).encode()
    if len(data) > MAX_FRAME:
        raise WireError(f"result too large ({len(data) // 2**20} MB)")
    payload = struct.pack(">I", len(data)) + data
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class FrameReader:
    """Incremental reader for frames arriving on a non-blocking pipe. After bad bytes it
    stops: `error` says what was wrong, and the frames before them are still returned."""

    def __init__(self):
        self.buffer = bytearray()
        self.error: str | None = None

    def feed(self, chunk: bytes) -> list[dict]:
        if self.error:
            return []
        self.buffer += chunk
        frames = []
        while len(self.buffer) >= 4:
            (size,) = struct.unpack(">I", self.buffer[:4])
            if size > MAX_FRAME:
                self.error = "oversized frame"
                break
            if len(self.buffer) < 4 + size:
                break
            raw = bytes(self.buffer[4:4 + size])
            del self.buffer[:4 + size]
            try:
                message = json.loads(raw)
            except (ValueError, RecursionError):
                message = None
            if not isinstance(message, dict):
                self.error = "malformed frame"
                break
            frames.append(message)
        return frames


def is_finite_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
