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


@pytest.fixture(scope="module")
def _template_gradebook(tmp_path_factory):
    """A gradebook that knows HW1 (nbgrader learns its cells once), copied for each test."""
    from autograder import gradebook
    db = tmp_path_factory.mktemp("template") / "gradebook.db"
    gradebook.ensure_assignment("hw1_backprop", db_path=db)
    return db


@pytest.fixture
def fresh_gradebook(tmp_path, monkeypatch, _template_gradebook):
    """Each test its own gradebook folder (knowing HW1): what one test records never shows in another's."""
    import shutil

    import course_config as cfg
    folder = tmp_path / "gradebook"
    folder.mkdir()
    shutil.copy(_template_gradebook, folder / "gradebook.db")
    for name, path in [("GRADEBOOK_DIR", folder), ("GRADEBOOK_DB", folder / "gradebook.db"),
                       ("FEEDBACK_DIR", folder / "feedback"), ("RESULTS_DIR", folder / "results")]:
        monkeypatch.setattr(cfg, name, path)
    return folder
