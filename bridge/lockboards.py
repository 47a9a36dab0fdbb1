"""Serial lock boards: the bank's configuration turned into the driver's own settings."""

from __future__ import annotations

from bridge.config import BankSettings, DriverSettings
from lockers.drivers.serial.driver import SerialBankDriver, SerialConfig
from lockers.drivers.serial.families import FamilyOptions, default_baud
from lockers.drivers.serial.poller import DoorWiring, Polarity, PollSettings
from lockers.drivers.serial.transport import LineSettings
from lockers.ports import Clock, system_clock


def serial_config(settings: DriverSettings) -> SerialConfig:
    """Raises ``ValueError`` for a bank that is not wired to serial boards."""
    if settings.kind != "serial" or not settings.port or settings.family is None:
        raise ValueError("this bank's driver is not a serial lock-board driver")
    return SerialConfig(
        line=LineSettings(
            settings.port,
            baud=settings.baud or default_baud(settings.family),
            timeout=settings.reply_timeout_seconds,
            echo=settings.echo,
        ),
        family=settings.family,
        doors=tuple(
            DoorWiring(d.compartment, d.board, d.lock, d.sensor) for d in settings.all_doors()
        ),
        options=FamilyOptions(
            locks_per_board=settings.locks_per_board,
            high_first=settings.bitmap_order == "high_first",
            sensors=settings.board_sensors,
        ),
        polarity=Polarity(
            lock_open_when_set=settings.lock_open_when == "set",
            sensor_occupied_when_set=settings.sensor_occupied_when == "set",
        ),
        poll=PollSettings(
            interval=settings.poll_interval_seconds,
            debounce_reads=settings.debounce_reads,
            offline_after=settings.offline_after_misses,
        ),
        confirm_delay=settings.open_confirm_seconds,
    )


def serial_driver(bank: BankSettings, clock: Clock = system_clock) -> SerialBankDriver:
    return SerialBankDriver(bank.id, serial_config(bank.driver), clock=clock)
