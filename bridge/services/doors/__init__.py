"""Doors: opening them through the bank's driver, and what the controller reports back.

- ``opening``: :func:`~bridge.services.doors.opening.open_door`, how every flow opens a door
  (a retry, then out of service and the reservation moved to another door);
- ``events``: the driver events (door opened, door closed, occupancy, fault), each handled in
  one transaction; ``bridge.services.assembly`` registers ``events.HANDLERS`` at start-up;
- ``closing``: what a door's close finishes: a pickup, a return door's deposits, equipment;
- ``readiness``: the access code and the "ready for pickup" message for newly loaded items;
- ``reopening``: whether a door opened for a pickup may be opened again;
- ``checks``: for staff: doors left open, shut doors whose reading contradicts the model.
"""
