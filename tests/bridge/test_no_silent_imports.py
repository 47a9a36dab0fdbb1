"""A module or job that does not import is an error, never a feature quietly switched off."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from redis import Redis

from bridge.config import load_settings
from bridge.jobs import periodic
from bridge.web.app import BLUEPRINTS, create_app
from tests.support.config import base_config


def test_every_periodic_job_is_registered(tmp_path: Path, redis_conn: Redis) -> None:
    settings = load_settings(None, **base_config(tmp_path))
    scheduler = periodic.build_scheduler(settings, redis_conn)
    registered = {f"{job.func.__module__}.{job.func.__name__}" for job in scheduler.get_jobs()}
    assert registered == {path for path, _queue, _every in periodic.schedule(settings)}


def test_a_misspelt_periodic_job_stops_the_scheduler_from_starting(
    tmp_path: Path, redis_conn: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(None, **base_config(tmp_path))
    real = periodic.schedule(settings)
    monkeypatch.setattr(
        periodic,
        "schedule",
        lambda _s: [*real, ("bridge.services.sweepr.sweep_outbox", "default", 30)],
    )
    with pytest.raises(ModuleNotFoundError, match="bridge.services.sweepr"):
        periodic.build_scheduler(settings, redis_conn)
    monkeypatch.setattr(
        periodic, "schedule", lambda _s: [("bridge.services.sweeper.sweep_outbx", "default", 30)]
    )
    with pytest.raises(AttributeError, match="sweep_outbx"):
        periodic.build_scheduler(settings, redis_conn)


def test_the_web_app_registers_every_blueprint(tmp_path: Path) -> None:
    app = create_app(load_settings(None, **base_config(tmp_path)))
    # Each module's blueprint, registered by its init_app or directly.
    names = set(app.blueprints)
    for module in BLUEPRINTS:
        assert importlib.import_module(module).bp.name in names, (module, names)
