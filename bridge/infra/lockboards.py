"""Serial lock boards: the bank's configuration turned into the driver's own settings, and the
gateway that serves one bank's boards over MQTT."""

from __future__ import annotations

import threading
from collections.abc import Callable

from bridge.config import BankSettings, DriverSettings
from lockers.drivers.mqtt import MqttDevice, MqttSettings
from lockers.drivers.serial.driver import SerialBankDriver, SerialConfig
from lockers.drivers.serial.families import FamilyOptions, default_baud
from lockers.drivers.serial.poller import DoorWiring, Polarity, PollSettings
from lockers.drivers.serial.transport import LineSettings
from lockers.ports import Clock, system_clock
from lockers.signing import Signer, Verifier


def serial_config(settings: DriverSettings) -> SerialConfig:
    """Raises ``ValueError`` for a bank that is not wired to serial boards."""
    if not settings.port or settings.family is None:
        raise ValueError("this bank's driver has no serial lock boards (port and family)")
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


def run_gateway(
    banks: list[BankSettings],
    stop: threading.Event,
    clock: Clock = system_clock,
    ready: Callable[[BankSettings], None] | None = None,
) -> None:
    """Owns the banks' boards and serves them over MQTT until ``stop`` is set.

    For ``mqtt`` banks whose boards hang on serial lines: this one process (near the boards)
    polls and commands them; every other Lockerbridge process talks to it through the broker
    with the MQTT driver, signed with the bank's key. Banks sharing a line must be served by
    the same gateway (a line has one owner).
    """

    for bank in banks:
        if bank.driver.kind != "mqtt" or not bank.driver.signing_key:
            raise ValueError(f"bank {bank.id!r}: the gateway serves banks of kind mqtt")
    opened: list[SerialBankDriver | MqttDevice] = []
    try:
        for bank in banks:
            d = bank.driver
            key = (d.signing_key or "").encode()
            driver = serial_driver(bank, clock)
            opened.append(driver)
            device = MqttDevice(
                driver,
                signer=Signer(bank.id, key, clock),
                verifier=Verifier({bank.id: key}, clock),
                settings=MqttSettings(
                    host=d.broker_host, port=d.broker_port, prefix=d.topic_prefix
                ),
            )
            device.start()
            opened.append(device)
            if ready is not None:
                ready(bank)  # subscribed: commands for this bank are answered from now on
        stop.wait()
    finally:
        for part in reversed(opened):
            part.close()
