"""Fixtures of the core tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "example_plugin"


@pytest.fixture
def example():
    """The example third-party plugin's package, importable from its source folder, for
    core.testing.running_platform(plugins={"example": example})."""
    sys.path.insert(0, str(EXAMPLE))
    try:
        import kaohe_example

        yield kaohe_example
    finally:
        sys.path.remove(str(EXAMPLE))
