"""Hardware drivers behind one small interface (``lockers.drivers.base.LockerDriver``).

``simulated`` runs in-process (demo, tests), ``mqtt`` talks to a controller through an MQTT
broker, ``http`` to a controller that accepts HTTPS commands and calls a webhook. See
docs/drivers.md for writing a driver for a vendor's lock board.
"""
