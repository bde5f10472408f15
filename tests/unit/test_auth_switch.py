"""DTLE_AUTH_REQUIRED=false is said out loud by every process that starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WARNING = "DTLE_AUTH_REQUIRED=false: the /v2 API answers every request without a login"


def start_django(tmp_path: Path, value: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DTLE_AUTH_REQUIRED": value, "DTLE_DATA_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_process_started_with_auth_off_logs_a_warning(tmp_path: Path) -> None:
    done = start_django(tmp_path, "false")
    assert done.returncode == 0, done.stderr
    assert WARNING in done.stderr


def test_a_process_with_auth_on_says_nothing(tmp_path: Path) -> None:
    done = start_django(tmp_path, "true")
    assert done.returncode == 0 and WARNING not in done.stderr


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_an_unreadable_switch_stops_the_process(tmp_path: Path, value: str) -> None:
    done = start_django(tmp_path, value)
    assert done.returncode != 0
    assert f"DTLE_AUTH_REQUIRED={value!r}: expected true or false" in done.stderr
