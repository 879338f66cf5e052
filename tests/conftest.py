"""Test-session setup: grades go to a scratch gradebook, never the real one; `--runslow`."""
import os
import sys
import tempfile
from pathlib import Path

# Before course_config is imported anywhere: the gradebook of this test session.
os.environ["COURSE_GRADEBOOK_DIR"] = tempfile.mkdtemp(prefix="test-gradebook-")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/sandbox_probes.py

import pytest  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
