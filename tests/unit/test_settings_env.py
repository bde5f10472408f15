"""The settings read the environment through typed helpers that name the variable on a bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from dtleweb.env import env_bool, env_choice, env_float, env_int, env_list, env_rate, env_str

ROOT = Path(__file__).resolve().parents[2]
KEY_WARNING = "DTLE_SECRET_KEY is not set: using the development key"


def test_unset_and_empty_give_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DTLE_X", raising=False)
    assert env_int("DTLE_X", 7) == 7 and env_bool("DTLE_X", True) is True
    monkeypatch.setenv("DTLE_X", "  ")
    assert env_float("DTLE_X", 1.5) == 1.5 and env_str("DTLE_X", "d") == "d"
    assert env_list("DTLE_X", ["a"]) == ["a"]


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("YES", True), ("1", True), ("on", True),
                                               ("false", False), ("No", False), ("0", False)])
def test_booleans(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("DTLE_X", raw)
    assert env_bool("DTLE_X", not expected) is expected


@pytest.mark.parametrize(("reader", "raw", "says"), [
    (lambda: env_bool("DTLE_X", False), "ture", "DTLE_X='ture': expected true or false"),
    (lambda: env_int("DTLE_X", 1), "10s", "DTLE_X='10s': expected a whole number"),
    (lambda: env_int("DTLE_X", 1, minimum=0), "-1", "DTLE_X='-1': expected at least 0"),
    (lambda: env_float("DTLE_X", 1.0), "fast", "DTLE_X='fast': expected a number"),
    (lambda: env_float("DTLE_X", 1.0), "nan", "DTLE_X='nan': expected a finite number"),
    (lambda: env_float("DTLE_X", 1.0, minimum=0.1), "0", "DTLE_X='0': expected at least 0.1"),
    (lambda: env_list("DTLE_X", []), "a,,b", "DTLE_X='a,,b': an item of the comma-separated list is empty"),
    (lambda: env_rate("DTLE_X", "5/min"), "5 per minute", "DTLE_X='5 per minute': expected a count per"),
    (lambda: env_choice("DTLE_X", "INFO", ("INFO", "DEBUG")), "LOUD", "DTLE_X='LOUD': expected one of"),
])
def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch, reader, raw: str, says: str) -> None:
    monkeypatch.setenv("DTLE_X", raw)
    with pytest.raises(ImproperlyConfigured, match="^" + says.replace("(", r"\(").replace(".", r"\.")):
        reader()


def test_good_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DTLE_X", " 12 ")
    assert env_int("DTLE_X", 1) == 12 and env_float("DTLE_X", 1.0) == 12.0
    monkeypatch.setenv("DTLE_X", "api, localhost ,127.0.0.1")
    assert env_list("DTLE_X", []) == ["api", "localhost", "127.0.0.1"]
    monkeypatch.setenv("DTLE_X", "30/hour")
    assert env_rate("DTLE_X", "5/min") == "30/hour"
    monkeypatch.setenv("DTLE_X", "warning")
    assert env_choice("DTLE_X", "INFO", ("INFO", "WARNING")) == "WARNING"


def start_django(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "DTLE_DATA_DIR": str(tmp_path), **env}
    for name in ("DJANGO_SETTINGS_MODULE", "DTLE_SECRET_KEY", "DTLE_DEBUG", "DTLE_ALLOWED_HOSTS"):
        if name not in env:
            full.pop(name, None)
    code = ("import django; django.setup(); from django.conf import settings; "
            "print('HOSTS', ','.join(settings.ALLOWED_HOSTS))")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**full, "DJANGO_SETTINGS_MODULE": "dtleweb.settings"}, timeout=120)


def test_a_process_stops_on_a_bad_number_naming_it(tmp_path: Path) -> None:
    done = start_django(tmp_path, DTLE_NODE_DOWN_AFTER="15s")
    assert done.returncode != 0
    assert "ImproperlyConfigured: DTLE_NODE_DOWN_AFTER='15s': expected a number" in done.stderr


def test_the_api_answers_only_the_local_host_names_by_default(tmp_path: Path) -> None:
    done = start_django(tmp_path, DTLE_SECRET_KEY="k" * 40)
    assert done.returncode == 0, done.stderr
    assert "HOSTS localhost,127.0.0.1,[::1]" in done.stdout
    named = start_django(tmp_path, DTLE_SECRET_KEY="k" * 40, DTLE_ALLOWED_HOSTS="dtle.example.com")
    assert "HOSTS dtle.example.com" in named.stdout


def test_the_development_key_outside_debug_is_said_out_loud(tmp_path: Path) -> None:
    done = start_django(tmp_path)
    assert done.returncode == 0, done.stderr
    assert KEY_WARNING in done.stderr and str(tmp_path / "secret_key") in done.stderr


@pytest.mark.parametrize("env", [{"DTLE_SECRET_KEY": "k" * 40}, {"DTLE_DEBUG": "true"}])
def test_a_set_key_or_debug_says_nothing(tmp_path: Path, env: dict[str, str]) -> None:
    done = start_django(tmp_path, **env)
    assert done.returncode == 0, done.stderr
    assert KEY_WARNING not in done.stderr
