"""The settable clock every test hands to the code under test (``Runtime.clock``, the fake
ILS, the reference ACS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """What the code under test reads as now; the test moves it.

    Frozen by default, at ``start`` (this moment, to the second, when not given): time passes
    only when the test calls ``advance`` or sets ``now``. With ``running=True`` it follows the
    wall clock plus whatever the test advanced, for tests where real waiting also happens
    (sessions in a live browser, a reference ACS answering on its own time).
    """

    def __init__(self, start: datetime | None = None, *, running: bool = False) -> None:
        self.running = running
        self._offset = timedelta(0)
        self._frozen = start or datetime.now(UTC).replace(microsecond=0)
        if running and start is not None:
            self._offset = start - datetime.now(UTC)

    @property
    def now(self) -> datetime:
        if self.running:
            return datetime.now(UTC) + self._offset
        return self._frozen

    @now.setter
    def now(self, value: datetime) -> None:
        if self.running:
            self._offset = value - datetime.now(UTC)
        else:
            self._frozen = value

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        if self.running:
            self._offset += timedelta(**kw)
        else:
            self._frozen += timedelta(**kw)


# Monday 10 March 2025, 09:00 UTC: where the tests that count days, weeks and opening hours
# (notifications, reports, alerts) start their clock.
START = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
