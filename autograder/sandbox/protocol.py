"""What crosses the trust boundary: length-prefixed JSON frames, bounded and sanitized.

The grader's side drives the conversation with the student's process: it sends one request
(run this cell, run this check) and accepts exactly one reply of the expected kind; a frame
it did not ask for is a protocol violation (`Violation`), never data.

Never pickle: unpickling data from a process that ran untrusted code would run that code in
the grader. NumPy arrays (and torch tensors, converted) travel as dtype, shape and base64
bytes; anything else a probe returns must be a number, bool, string, None, list or dict.
A student's object that merely pretends to be a number or an array (a subclass with its own
`__eq__`, say) is flattened to plain data here, so it cannot fool a comparison later.

Every string that arrives is made safe on the receiving side (`clean_text`): capped, lone
surrogates and control characters replaced, so that nothing a student wrote can break the
JSON, the gradebook or the feedback files downstream.
"""
from __future__ import annotations

import base64
import json
import math
import os
import re
import struct

from autograder.probe import Failed

MAX_FRAME = 64 * 1024 * 1024
MAX_TEXT = 2000  # characters of any one string a student's process sends
_ALLOWED_KINDS = set("biufc")  # bool, int, uint, float, complex
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class WireError(Exception):
    """Bytes that are not a valid frame or value."""


class Violation(Exception):
    """The student's process sent something the grader did not ask for."""


def clean_text(value, limit: int = MAX_TEXT) -> str:
    """A string safe to store and show: at most `limit` characters, valid UTF-8 (lone
    surrogates replaced), no control characters but newline and tab."""
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + " [...]"
    text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub("\ufffd", text)


# ------------------------------------------------------------------------- values

def encode_value(value, depth=0):
    import numpy as np

    if depth > 20:
        raise WireError("data nested too deeply")
    if value is None or type(value) is bool:
        return value
    if type(value) is str:
        return value[:10000]
    if isinstance(value, Failed):
        return {"__failed__": str(value.message)[:MAX_TEXT]}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, dict):
        return {str(k)[:200]: encode_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_value(v, depth + 1) for v in value]
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind not in _ALLOWED_KINDS:
        raise WireError(f"cannot send a value of type {type(value).__name__}")
    array = np.ascontiguousarray(array).reshape(array.shape).view(np.ndarray)  # ascontiguousarray makes 0-d arrays 1-d
    return {"__nd__": [array.dtype.str, list(array.shape), base64.b64encode(array.tobytes()).decode()]}


def decode_value(value, depth=0):
    """Plain data back from a frame; strings cleaned, arrays checked against their shape."""
    import numpy as np

    if depth > 40:
        raise WireError("data nested too deeply")
    if isinstance(value, dict):
        if set(value) == {"__nd__"}:
            try:
                dtype, shape, data = value["__nd__"]
                dt = np.dtype(str(dtype))
                shape = [int(n) for n in shape]
                raw = base64.b64decode(str(data), validate=True)
            except (ValueError, TypeError) as exc:
                raise WireError(f"bad array ({clean_text(exc, 200)})") from None
            if dt.kind not in _ALLOWED_KINDS or dt.hasobject:
                raise WireError("bad array dtype")
            if any(n < 0 for n in shape) or math.prod(shape) * dt.itemsize != len(raw):
                raise WireError("array data does not match its shape")
            return np.frombuffer(raw, dtype=dt).reshape(shape).copy()
        if set(value) == {"__failed__"}:
            return Failed(clean_text(value["__failed__"]))
        return {clean_text(k, 200): decode_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_value(v, depth + 1) for v in value]
    if isinstance(value, str):
        return clean_text(value, 10000)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise WireError("unexpected value")


# ------------------------------------------------------------------------- frames

def pack(message: dict) -> bytes:
    data = json.dumps(message, allow_nan=True).encode("utf-8", "surrogatepass")
    if len(data) > MAX_FRAME:
        raise WireError(f"result too large ({len(data) // 2**20} MB)")
    return struct.pack(">I", len(data)) + data


def write_frame(fd: int, message: dict) -> None:
    view = memoryview(pack(message))
    while view:
        view = view[os.write(fd, view):]


class FrameReader:
    """Incremental reader for frames arriving on a non-blocking descriptor. After bad bytes
    it stops: `error` says what was wrong, and the frames before them are still returned."""

    def __init__(self, max_frame: int = MAX_FRAME):
        self.buffer = bytearray()
        self.error: str | None = None
        self.max_frame = max_frame

    def feed(self, chunk: bytes) -> list[dict]:
        if self.error:
            return []
        self.buffer += chunk
        frames = []
        while len(self.buffer) >= 4:
            (size,) = struct.unpack(">I", self.buffer[:4])
            if size > self.max_frame:
                self.error = "a reply larger than the grader accepts"
                break
            if len(self.buffer) < 4 + size:
                break
            raw = bytes(self.buffer[4:4 + size])
            del self.buffer[:4 + size]
            try:
                message = json.loads(raw.decode("utf-8", "replace"))
            except (ValueError, RecursionError):
                message = None
            if not isinstance(message, dict):
                self.error = "malformed bytes on the grader's channel"
                break
            frames.append(message)
        return frames


def read_frame_blocking(fd: int, max_frame: int = MAX_FRAME) -> dict:
    """One frame from a blocking descriptor (used by the trusted side's own children)."""
    reader = FrameReader(max_frame)
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            raise WireError("the channel closed")
        frames = reader.feed(chunk)
        if reader.error:
            raise WireError(reader.error)
        if frames:
            if len(frames) > 1 or reader.buffer:
                raise WireError("more than one frame")
            return frames[0]


def is_finite_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
