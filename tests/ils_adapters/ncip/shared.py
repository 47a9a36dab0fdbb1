"""Where the shared NCIP schema and samples live: ../shared beside the repository."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from lxml import etree

REPO_ROOT = Path(__file__).resolve().parents[3]
NCIP_DIR = REPO_ROOT.parent / "shared" / "ncip"
SAMPLES = NCIP_DIR / "samples"


def need_shared() -> None:
    if not (NCIP_DIR / "ncip_v2_02.xsd").is_file():
        pytest.skip(f"NCIP reference data not found at {NCIP_DIR} (clone shared/ beside the repo)")


@cache
def schema(name: str = "ncip_v2_02.xsd") -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(NCIP_DIR / name)))


def assert_valid(body: bytes) -> None:
    """Valid against NCIP 2.02, or, for LookupVersion, the version-discovery schema."""
    need_shared()
    doc = etree.fromstring(body)
    s = schema("ncip_version.xsd" if doc.tag == "NCIPVersionMessage" else "ncip_v2_02.xsd")
    assert s.validate(doc), s.error_log.last_error


def sample_files() -> list[Path]:
    return sorted(SAMPLES.glob("*/*.xml")) if SAMPLES.is_dir() else []


def is_response(path: Path) -> bool:
    return "Response" in path.name
