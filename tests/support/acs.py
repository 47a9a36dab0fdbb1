"""The reference SIP2 server's sample catalogue, and pointing a configuration at a running one."""

from __future__ import annotations

from typing import Any

from tests.support.config import REPO

# examples/catalogue.json: patrons 23000000000001-08 (PIN 1234, 2345, ...), 07 with a child
# card, 05 blocked; holds H1 (patron 01, item 39000000000001) and H3 (patron 03, item
# 39000000000013) wait at MAIN-LOCKER; Laptop 01 (39000000000017) is for adults, Hotspot 01
# (39000000000020) has a 2.00 rental fee.
CATALOGUE = REPO / "examples" / "catalogue.json"


def use_acs(cfg: dict[str, Any], acs: Any) -> dict[str, Any]:
    """Points the configuration's ILS at a running reference ACS (SIP2 over TCP)."""
    host, port = acs.address
    cfg["ils"] = [
        {
            "name": "main-ils",
            "profile": "koha",
            "host": host,
            "port": port,
            "institution": "DEMO",
            "timeout_seconds": 3,
        }
    ]
    return cfg
