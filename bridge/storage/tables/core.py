"""Tables every area shares: banks, compartments, the audit log and the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bridge.storage.base import Base, utcnow


class BankRow(Base):
    """A locker bank as last synced from the configuration (the file is the source of truth)."""

    __tablename__ = "bank"

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    branch: Mapped[str] = mapped_column(String(63))
    ils: Mapped[str] = mapped_column(String(63))
    controller_online: Mapped[bool] = mapped_column(default=True)
    controller_seen_at: Mapped[datetime | None]


class CompartmentRow(Base):
    __tablename__ = "compartment"
    __table_args__ = (
        UniqueConstraint("bank_id", "number"),
        # The status page counts doors needing staff across every bank on each load and poll:
        # by state, or with a fault (few rows), not by reading a consortium's every door.
        Index("ix_compartment_state", "state"),
        Index("ix_compartment_fault", "fault"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[str] = mapped_column(ForeignKey("bank.id"), index=True)
    number: Mapped[int]
    size: Mapped[str] = mapped_column(String(4))
    purpose: Mapped[str] = mapped_column(String(16))
    height_cm: Mapped[int]
    width_mm: Mapped[int | None]
    height_mm: Mapped[int | None]
    depth_mm: Mapped[int | None]
    charger: Mapped[bool] = mapped_column(default=False)
    # A return door is a bin: it takes ``capacity`` deposits; ``deposits`` since last emptied.
    capacity: Mapped[int] = mapped_column(default=1)
    deposits: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(String(24))
    # The state to go back to when an out-of-service compartment is put back in service.
    state_before_fault: Mapped[str | None] = mapped_column(String(24))
    state_since: Mapped[datetime] = mapped_column(default=utcnow)
    door_open: Mapped[bool] = mapped_column(default=False)
    door_opened_at: Mapped[datetime | None]
    # The controller's time of the last close: a resent "opened" older than it is stale.
    door_closed_at: Mapped[datetime | None]
    occupied: Mapped[bool | None]
    fault: Mapped[str | None] = mapped_column(String(200))
    open_failures: Mapped[int] = mapped_column(default=0)


class AuditEventRow(Base):
    """Every state change and staff action. Patron references are pseudonymised (keyed hash)."""

    __tablename__ = "audit_event"
    # The log grows by every door event of every bank for ``retention.audit_days``: each staff
    # filter (a bank, a kind) reads newest first from its own index instead of sorting.
    __table_args__ = (
        Index("ix_audit_event_at", "at"),
        Index("ix_audit_event_bank_at", "bank_id", "at"),
        Index("ix_audit_event_kind_at", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))
    bank_id: Mapped[str | None] = mapped_column(String(63))
    compartment: Mapped[int | None]
    actor: Mapped[str] = mapped_column(String(120), default="system")
    subject: Mapped[str | None] = mapped_column(String(64))  # pseudonym, never a card number
    item: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OutboxRow(Base):
    """Work to do after a transaction commits (check a deposit in, send a message...).

    Written in the same transaction as the change it follows, so nothing is lost between the
    database and Redis; the sweeper re-enqueues rows whose lease ran out.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("kind", "ref"),
        Index("ix_outbox_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # "deposit_checkin", "notification", ...
    ref: Mapped[str] = mapped_column(String(120))  # the row it is about; also the rq job id
    order_key: Mapped[str | None] = mapped_column(String(120), index=True)  # e.g. item barcode
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|leased|done|failed
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
