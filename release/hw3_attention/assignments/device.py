"""Where the notebooks run their tensors: the GPU when there is one, the CPU otherwise.

Code in the notebooks never hard-codes `.cuda()`: it takes a `device` argument (or the device
of the data it is given), so the same code runs on a laptop, on the course's GPU and in the
grader.
"""
from __future__ import annotations


def default_device():
    """torch.device("cuda") when PyTorch sees a GPU, else torch.device("cpu")."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def describe(device) -> str:
    """A one-line name of the device, e.g. "cuda: NVIDIA A100-SXM4-40GB" or "cpu: AMD EPYC 7B13,
    1 thread"."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    name = "unknown processor"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        import platform

        name = platform.processor() or name
    threads = torch.get_num_threads()
    return f"cpu: {name}, {threads} thread{'s' if threads != 1 else ''}"
