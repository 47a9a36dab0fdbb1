"""A raw SIP2 client on the reference ACS of ``tests/sip2/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sip2.acs.server import ReferenceACS
from tests.sip2.acs.support import RawClient


@pytest.fixture
def client(acs: ReferenceACS) -> Iterator[RawClient]:
    raw = RawClient(acs.address)
    yield raw
    raw.close()
