"""The SIP2 tests' reference ACS: the small catalogue of ``tests.sip2.acs.support`` on a clock
stopped at its ``NOW``, on a free loopback port, stopped after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sip2.acs.server import ReferenceACS
from tests.sip2.acs.support import NOW, small_catalogue


@pytest.fixture
def acs() -> Iterator[ReferenceACS]:
    with ReferenceACS(small_catalogue(), clock=lambda: NOW) as server:
        yield server
