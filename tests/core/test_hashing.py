"""The platform hashes passwords at argon2's default cost; only the test suite lowers it."""

from __future__ import annotations

import subprocess
import sys

from argon2 import PasswordHasher


def test_platform_keeps_default_argon2_cost():
    # A fresh interpreter: the suite's conftest swaps in cheap parameters for speed.
    code = "from core import accounts; print(accounts._hasher.hash('x'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    default = PasswordHasher()
    params = out.stdout.strip().split("$")[3]
    assert params == f"m={default.memory_cost},t={default.time_cost},p={default.parallelism}"


def test_cheap_test_hashes_still_verify_in_the_platform():
    from core import accounts

    digest = accounts._hasher.hash("s3cret-pw")
    assert "t=1" in digest
    code = ("import sys; from core import accounts; "
            "print(accounts._hasher.verify(sys.argv[1], 's3cret-pw'))")
    out = subprocess.run([sys.executable, "-c", code, digest], capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stderr
