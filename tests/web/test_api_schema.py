"""Schemathesis against the kiosk and controller API: generated requests (valid and invalid)
must get documented statuses and bodies that match the OpenAPI document, never a 5xx other
than the documented 503. A bounded number of examples keeps it quick."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from bridge.config import load_settings
from bridge.web.app import create_app
from ils_adapters.memory import MemoryIls
from tests.support.clock import Clock
from tests.support.runtime import make_runtime
from tests.web.test_api import KIOSK, STAFF, api_config


@pytest.fixture
def api_app(tmp_path: Path, sqlite_engine: Any, redis_conn: Any) -> Flask:
    fake = MemoryIls()
    fake.add_patron("P1", "1234")
    rt = make_runtime(
        load_settings(None, **api_config(tmp_path)), sqlite_engine, redis_conn, Clock(), fake
    )
    app = create_app(rt.settings, rt)
    app.config["TESTING"] = True
    return app


def _exercise(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def call(case: Any) -> None:
        case.call_and_validate(headers=headers)

    call()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_answers_as_documented(api_app: Flask, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)
    checked = []
    for found in schema.get_all_operations():
        operation = found.ok()
        op_id = operation.definition.raw["operationId"]
        if op_id == "controllerEvents":
            continue  # signed calls: covered by test_api.py
        token = STAFF if op_id == "scanForLoading" else KIOSK
        _exercise(operation, mode, {"Authorization": f"Bearer {token}"})
        checked.append(op_id)
    assert len(checked) == 6
