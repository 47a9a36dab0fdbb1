"""RS-485 lock-control boards driven directly over a serial line or a serial-to-TCP converter.

One sans-I/O codec per board family (``xor8a``, ``kerong``, ``wkly``), a shared transport
(``transport``: one request on the wire at a time), a poller per line (``poller``: door and
sensor transitions), the ``LockerDriver`` of a bank (``driver``) and a board emulator on a
pseudo-terminal (``emulator``) for tests and installers. See docs/drivers.md.
"""
