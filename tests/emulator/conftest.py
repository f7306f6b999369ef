"""Fixtures the self-check files share (pytest finds this file itself): a
private emulator per test file, and a reset between tests that want one."""

import subprocess
import urllib.request
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "emulator"


@pytest.fixture(scope="module")
def emulator_env(tmp_path_factory):
    """The export lines `scripts/emulator start` printed, as a dict."""
    instance = tmp_path_factory.mktemp("emulator")
    out = subprocess.run([str(SCRIPT), "start", "--dir", str(instance)], capture_output=True, text=True, check=True)
    yield dict(line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines())
    subprocess.run([str(SCRIPT), "stop", "--dir", str(instance)], check=True)


@pytest.fixture(scope="module")
def endpoint(emulator_env):
    return emulator_env["AWS_ENDPOINT_URL"]


@pytest.fixture
def reset(endpoint):
    """moto's reset: every resource gone, the emulator's settings back to their defaults."""
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
