"""Every state-changing request the reference ACS performed, in order.

The fault suite reads it to count, for example, items checked in twice: the ledger records
what the ACS *did*, whether or not the reply reached the client.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, replace
from datetime import datetime


class Action(enum.Enum):
    CHECKIN = "checkin"
    CHECKOUT = "checkout"
    RENEW = "renew"
    HOLD_PLACED = "hold_placed"
    HOLD_CANCELLED = "hold_cancelled"


@dataclass(frozen=True)
class LedgerEntry:
    """One performed request.

    ``ok`` is the ok flag sent back. ``loan_closed`` (checkin) is true when the item was
    charged and this checkin ended the loan: two such entries for one loan never happen,
    so two consecutive ``loan_closed`` checkins of an item without a checkout between them
    would be a bug. ``return_date`` is the (possibly backdated) date the client sent.
    ``transaction_date`` (checkout) is the date the client sent as the transaction's: the
    original time of a loan sent later with ``no_block`` (store and forward).
    """

    action: Action
    at: datetime  # the ACS's clock when it performed the action
    account: str  # SIP login user
    item: str
    patron: str | None = None  # whose loan ended / started
    location: str | None = None  # AP for checkin
    return_date: datetime | None = None
    return_date_text: str | None = None  # the return date field as it came over the wire
    ok: bool = True
    loan_closed: bool = False
    alert: str | None = None  # checkin CV value sent, if any
    destination: str | None = None  # checkin CT sent, if any
    hold: str | None = None  # hold id captured / placed / filled
    message: str = ""
    transaction_date: datetime | None = None
    no_block: bool = False
    seq: int = 0  # position in the ledger, from 1


class Ledger:
    """Append-only and thread-safe."""

    def __init__(self) -> None:
        self._entries: list[LedgerEntry] = []
        self._lock = threading.Lock()

    def record(self, entry: LedgerEntry) -> LedgerEntry:
        """Append ``entry``, numbering it (its own ``seq`` is ignored)."""
        with self._lock:
            numbered = replace(entry, seq=len(self._entries) + 1)
            self._entries.append(numbered)
            return numbered

    def entries(self, action: Action | None = None, item: str | None = None) -> list[LedgerEntry]:
        with self._lock:
            return [
                e
                for e in self._entries
                if (action is None or e.action is action) and (item is None or e.item == item)
            ]

    def checkins(self, item: str | None = None) -> list[LedgerEntry]:
        return self.entries(Action.CHECKIN, item)

    def checkouts(self, item: str | None = None) -> list[LedgerEntry]:
        return self.entries(Action.CHECKOUT, item)

    def loans_closed(self, item: str) -> int:
        """How many loans of this item a checkin ended."""
        return sum(1 for e in self.checkins(item) if e.loan_closed)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
