"""Prometheus metrics.

Counters and histograms live in the process that observes them (SIP2 latency, door events,
notifications); with several gunicorn or worker processes set ``PROMETHEUS_MULTIPROC_DIR`` to a
shared folder so ``/metrics`` adds them up. Gauges of shared state (queue depth, deposits by
state, compartments by state) are read from the database and Redis at scrape time, so every web
process reports the same numbers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from bridge.runtime import QUEUE_NAMES
from bridge.storage.tables.core import BankRow, CompartmentRow, OutboxRow
from bridge.storage.tables.returns import DepositRow

SIP2_LATENCY = Histogram(
    "lockerbridge_sip2_request_seconds",
    "SIP2 request round trip, by message and ILS",
    ["message", "ils"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SIP2_ERRORS = Counter(
    "lockerbridge_sip2_errors_total", "SIP2 requests that failed, by kind", ["ils", "kind"]
)
DOOR_EVENTS = Counter(
    "lockerbridge_door_events_total", "Door events from controllers", ["bank", "event"]
)
NOTIFICATIONS = Counter(
    "lockerbridge_notifications_total",
    "Patron messages by channel and result",
    ["channel", "result"],
)


def observe_sip2(message: str, ils: str, seconds: float, error: str | None = None) -> None:
    SIP2_LATENCY.labels(message=message, ils=ils).observe(seconds)
    if error:
        SIP2_ERRORS.labels(ils=ils, kind=error).inc()


class SharedStateCollector(Collector):
    """Reads shared state at scrape time."""

    def __init__(self, runtime: Any) -> None:
        self.rt = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        outbox = GaugeMetricFamily(
            "lockerbridge_outbox_rows",
            "Background work not yet done, by kind and state",
            labels=["kind", "state"],
        )
        compartments = GaugeMetricFamily(
            "lockerbridge_compartments", "Compartments by bank and state", labels=["bank", "state"]
        )
        with self.rt.sessions() as s:
            for kind, state, n in s.execute(
                select(OutboxRow.kind, OutboxRow.state, func.count())
                .where(OutboxRow.state.in_(("pending", "leased", "failed")))
                .group_by(OutboxRow.kind, OutboxRow.state)
            ):
                outbox.add_metric([kind, state], n)
            for bank, state, n in s.execute(
                select(CompartmentRow.bank_id, CompartmentRow.state, func.count()).group_by(
                    CompartmentRow.bank_id, CompartmentRow.state
                )
            ):
                compartments.add_metric([bank, state], n)
            yield from self._deposits(s)
            yield from self._controllers(s)
        yield outbox
        yield compartments
        queues = GaugeMetricFamily(
            "lockerbridge_queue_depth", "Jobs waiting, by rq queue", labels=["queue"]
        )

        try:
            for name in QUEUE_NAMES:
                queues.add_metric([name], self.rt.queue(name).count)
        except Exception:  # noqa: S110  Redis down: readiness reports it; skip the gauge
            pass
        yield queues

    def _deposits(self, s: Any) -> Iterator[GaugeMetricFamily]:
        fam = GaugeMetricFamily("lockerbridge_deposits", "Deposits by state", labels=["state"])
        for state, n in s.execute(
            select(DepositRow.state, func.count()).group_by(DepositRow.state)
        ):
            fam.add_metric([state], n)
        yield fam

    def _controllers(self, s: Any) -> Iterator[GaugeMetricFamily]:
        fam = GaugeMetricFamily(
            "lockerbridge_controller_online",
            "1 when the bank's controller is online",
            labels=["bank"],
        )
        for bank_id, online in s.execute(select(BankRow.id, BankRow.controller_online)):
            fam.add_metric([bank_id], 1 if online else 0)
        yield fam


def registry_for(runtime: Any) -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for collector in (SIP2_LATENCY, SIP2_ERRORS, DOOR_EVENTS, NOTIFICATIONS):
            registry.register(collector)
    registry.register(SharedStateCollector(runtime))
    return registry
