"""TODO4: int4 packing: the exact bytes (element 2i in the low nibble, 2i+1 in the high one, an odd
length padded with a zero), ceil(n / 2) of them, and unpacking bytes packed here, signs restored."""
from __future__ import annotations

import numpy as np

from autograder.tests.hw4_quantization import cases, reference
from autograder.tests.hw4_quantization.common import value


def test_pack_int4_bytes(student):
    got = student("packing")["pack"]
    for k, (seed, n) in enumerate(cases.PACK_CASES):
        values = cases.int4_values(seed, n)
        expected = reference.pack_int4(values).numpy()
        packed = value(got[str(k)], f"pack_int4 of {n} values", "uint8").reshape(-1)
        assert packed.size == (n + 1) // 2, (
            f"pack_int4 of {n} values returned {packed.size} bytes, expected ceil({n} / 2) = {(n + 1) // 2}"
            + (": an odd length gets one zero nibble of padding" if n % 2 else ""))
        if not np.array_equal(packed, expected):
            swapped = ((expected & 0xF) << 4) | (expected >> 4)
            hint = (" Your bytes have the two nibbles swapped: element 2i goes in the LOW nibble (bits 0-3), "
                    "element 2i+1 in the HIGH nibble" if np.array_equal(packed, swapped) else
                    " Each value is its two's-complement nibble (v & 0xF); byte i = low | (high << 4)")
            i = int(np.argmax(packed != expected))
            raise AssertionError(f"pack_int4 of {n} values: byte {i} is {packed[i]:#04x}, expected {expected[i]:#04x} "
                                 f"(from {values[2 * i].item()} and "
                                 f"{values[2 * i + 1].item() if 2 * i + 1 < n else 'padding 0'}).{hint}")


def test_unpack_int4_values(student):
    got = student("packing")["unpack"]
    for k, (seed, n) in enumerate(cases.PACK_CASES):
        expected = cases.int4_values(seed, n).numpy()
        values = value(got[str(k)], f"unpack_int4(packed, n={n})", "int8").reshape(-1)
        assert values.size == n, f"unpack_int4(packed, n={n}) returned {values.size} values, expected {n}"
        if not np.array_equal(values, expected):
            i = int(np.argmax(values != expected))
            hint = (" A nibble of 8 or more stands for nibble - 16 (restore the sign)" if values[i] == expected[i] + 16
                    else " Element 2i is in the LOW nibble of byte i, element 2i+1 in the HIGH nibble")
            raise AssertionError(f"unpack_int4(packed, n={n}): value {i} is {values[i]}, expected {expected[i]}.{hint}")
