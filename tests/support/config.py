"""The configuration tests start from, and where the checkout and its reference data are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"

# The example configuration's placeholder secrets (refused outside the demo) and real-looking
# values that tests put in their place.
EXAMPLE_SECRETS = {
    "change-me-to-a-long-random-string-of-48-chars-0000": "q3VtW8xq0m2Lr5Yb9nH1sPdKf7Tg4JcZeA6uRwXo",
    "change-me-code-key-0123456789abcdef": "Jd93kfQm2Lx8Vt0bRn6Yh1WcPz4Gs7Ua",
}


def base_config(tmp_path: Path, **over: Any) -> dict[str, Any]:
    """A small valid configuration: one ILS, two banks, as a dict to adjust per test."""
    cfg: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path}/lb.db",
        "redis_url": "embedded",
        "web": {"secret_key": "k" * 40, "secure_cookies": False, "port": 0},
        "security": {"code_keys": ["test-code-key-0123456789abcdef"]},
        "ils": [{"name": "main-ils", "profile": "koha", "port": 6001, "checksums": True}],
        "banks": [
            {
                "id": "main-lobby",
                "name": "Main Library lobby",
                "branch": "MAIN-LOCKER",
                "ils": "main-ils",
                "sip_login": {"user": "lockers-main", "password": "demo-main"},
                "compartment_ranges": [
                    {"first": 1, "last": 6, "size": "S"},
                    {"first": 7, "last": 10, "size": "M"},
                    {"first": 11, "last": 12, "size": "L", "height_cm": 40},
                    {"first": 13, "last": 14, "size": "M", "purpose": "return"},
                    {"first": 15, "last": 16, "size": "M", "purpose": "equipment", "charger": True},
                ],
            },
            {
                "id": "east-station",
                "name": "East station",
                "branch": "EAST-LOCKER",
                "ils": "main-ils",
                "sip_login": {"user": "lockers-east", "password": "demo-east"},
                "compartment_ranges": [
                    {"first": 1, "last": 4, "size": "M"},
                    {"first": 5, "last": 6, "size": "M", "purpose": "return"},
                ],
            },
        ],
        "routing": [
            {"location": "MAIN-LOCKER", "bank": "main-lobby"},
            {"location": "EAST-LOCKER", "bank": "east-station"},
        ],
    }
    for key, value in over.items():
        cfg[key] = value
    return cfg
