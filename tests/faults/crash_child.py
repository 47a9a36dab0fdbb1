"""A process that returns one item at a simulated bank and may die on the way.

Run by ``tests/faults/test_door_close_crash.py`` with ``LOCKERBRIDGE_CRASH_AT`` set: it reads
its settings (JSON) from stdin, opens a return door for the item through the kiosk's service,
puts the item in and shuts the door; the door-close event then runs the real event handling in
this process, which ends at the crash point.
"""

from __future__ import annotations

import json
import sys

from redis import Redis

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.services.assembly import handle_event
from bridge.services.return_doors import open_return_door
from bridge.storage.db import make_engine
from lockers.drivers.simulated import SimTiming, SimulatedBank


def main() -> int:
    spec = json.loads(sys.stdin.read())
    settings = load_settings(None, **spec["config"])
    rt = Runtime.over(settings, make_engine(spec["database_url"]), Redis.from_url(spec["redis"]))
    bank = settings.bank(spec["bank"])
    sim = SimulatedBank(
        bank.id,
        [c.number for c in bank.all_compartments()],
        timing=SimTiming(open_delay=0, read_delay=0),
    )
    sim.subscribe(lambda event: handle_event(rt, event))
    rt.cached(f"driver:{bank.id}", lambda: sim)
    for item in spec["items"]:
        door = open_return_door(rt, bank.id, item).opened
        assert door is not None, "no return door opened"
        sim.put_item(door)
        assert sim.close_door(door)
        print(door, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
