"""``make audit`` and CI's audit step, run for real: an audit that checked nothing never
passes, and CI says in one line when it could not ask."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parent.parent
# This virtualenv already holds pip-audit: make is told not to install it again.
WITH_THIS_VENV = ["-o", "install-dev", f"VENV={sys.prefix}"]
UNAUDITED = "could not be audited"


def test_make_audit_never_passes_having_skipped_a_package():
    done = subprocess.run(
        ["make", "--no-print-directory", "audit", *WITH_THIS_VENV],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    said = done.stdout + done.stderr
    # Where PyPI's advisory data is out of reach (as on this machine), every package is
    # "not found" and the audit must fail; where it is reachable, every package is checked.
    if UNAUDITED in said:
        assert done.returncode != 0, said
    else:
        assert "Found" in said or "No known vulnerabilities found" in said, said


def test_ci_skips_the_audit_in_one_visible_line_when_advisories_are_out_of_reach():
    # A proxy that refuses every connection: PyPI's advisory data cannot be reached.
    dead_proxy = "http://127.0.0.1:9"
    env = {**os.environ, "https_proxy": dead_proxy, "HTTPS_PROXY": dead_proxy}
    done = subprocess.run(
        [ROOT / ".ci" / "audit", *WITH_THIS_VENV],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [line] = done.stdout.splitlines()
    assert line.startswith("make audit skipped: PyPI's advisory data is unreachable"), line
