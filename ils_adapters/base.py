"""The small interface every Lockerbridge flow uses to talk to a library catalogue (ILS).

Results are frozen values in the library's own words. No SIP two-letter code, NCIP element
name or vendor JSON field crosses this boundary: adapters translate on the way in and out.

Errors are typed by what the caller should do:

* :class:`IlsUnavailable` - the ILS did not answer; nothing happened; retry later.
* :class:`IlsRejected` - the ILS answered "no" to the request itself (bad login, service not
  allowed); retrying the same request will not help.
* :class:`OutcomeUnknown` - the request may or may not have been applied (reply lost); verify
  with :meth:`IlsAdapter.item_status` (a checkout: :func:`lent_to`) before doing anything that
  changes state again.
* :class:`ProfileMismatch` - the ILS does not behave as its configured profile says; a person
  must fix the configuration.

A refusal that is part of normal circulation (blocked patron, item not checked out, fee needs
acknowledging) is *not* an error: it comes back as an outcome with ``ok=False`` and a kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ils_adapters.profiles import IlsProfile


# --- errors -------------------------------------------------------------------------------


class IlsError(Exception):
    """Base of every error an adapter raises. Catch a subclass, not this."""


class IlsUnavailable(IlsError):
    """The ILS could not be reached or did not answer; nothing was applied. Retry later."""


class IlsRejected(IlsError):
    """The ILS refused the request itself; do not retry it unchanged.

    ``screen_message`` is the ILS's own explanation, suitable for staff.
    """

    def __init__(self, message: str, *, screen_message: str | None = None) -> None:
        super().__init__(message)
        self.screen_message = screen_message


class OutcomeUnknown(IlsError):
    """The request was sent but its reply was lost: verify with ``item_status`` first."""


class ProfileMismatch(IlsError):
    """The ILS contradicts its configured profile. ``mismatches`` says how, in plain words."""

    def __init__(self, mismatches: tuple[str, ...]) -> None:
        super().__init__("; ".join(mismatches))
        self.mismatches = mismatches


# --- values -------------------------------------------------------------------------------


class CheckinKind(StrEnum):
    """What a check-in means for the locker flow."""

    HOLD_HERE = "hold_here"  # a hold waits at this pickup location: load it into a compartment
    HOLD_ELSEWHERE = "hold_elsewhere"  # a hold waits elsewhere: send to `destination`
    TRANSIT = "transit"  # no hold, but the item travels to `destination`
    NO_HOLD = "no_hold"  # checked in, stays here (reshelve / equipment available again)
    NOT_CHECKED_OUT = "not_checked_out"  # the ILS says it was not on loan: verify with status
    UNKNOWN_ITEM = "unknown_item"  # the barcode is not in the catalogue
    NEEDS_STAFF = "needs_staff"  # an alert the middleware cannot interpret
    REJECTED = "rejected"  # the ILS refused the check-in (see screen_message)


@dataclass(frozen=True)
class CheckinOutcome:
    """The answer to a check-in.

    ``destination`` is the branch / pickup location the item must go to (for HOLD_HERE it is
    this location). ``hold_patron`` is the patron barcode the hold is for, when the ILS says.
    ``hold_expires`` is the hold-shelf expiry when the ILS sends it.
    """

    ok: bool
    kind: CheckinKind
    item: str
    destination: str | None = None
    hold_patron: str | None = None
    hold_expires: datetime | None = None
    screen_message: str | None = None
    # The hold patron's name as the ILS gives it (personal data: never logged).
    hold_patron_name: str | None = field(default=None, repr=False)

    @property
    def fills_hold_here(self) -> bool:
        return self.kind is CheckinKind.HOLD_HERE


class CirculationStatus(StrEnum):
    """Where an item stands in circulation (SIP2 item information circulation status)."""

    OTHER = "other"
    ON_ORDER = "on_order"
    AVAILABLE = "available"
    CHARGED = "charged"  # on loan
    CHARGED_NOT_TO_BE_RECALLED = "charged_not_to_be_recalled"
    IN_PROCESS = "in_process"
    RECALLED = "recalled"
    WAITING_ON_HOLD_SHELF = "waiting_on_hold_shelf"
    WAITING_TO_RESHELVE = "waiting_to_reshelve"
    IN_TRANSIT = "in_transit"
    CLAIMED_RETURNED = "claimed_returned"
    LOST = "lost"
    MISSING = "missing"
    UNKNOWN = "unknown"  # the item is not in the catalogue

    @property
    def on_loan(self) -> bool:
        return self in (CirculationStatus.CHARGED, CirculationStatus.CHARGED_NOT_TO_BE_RECALLED)


@dataclass(frozen=True)
class ItemStatus:
    """What the ILS says about an item right now.

    ``captured_hold`` is True/False only when the ILS tells us plainly (status "waiting on hold
    shelf", or a profile where the hold count means "captured hold exists"); None if unknown.
    """

    item: str
    known: bool
    status: CirculationStatus
    title: str | None = None
    location: str | None = None  # current or permanent location the ILS reports
    destination: str | None = None  # where it travels to / the hold's pickup location
    hold_shelf_expires: datetime | None = None
    due: datetime | None = None
    captured_hold: bool | None = None
    screen_message: str | None = None
    # Holds the item could fill, captured or not, wherever they are picked up (Koha's hold count
    # covers the whole title); None when item information does not say (Evergreen's count is
    # only the captured-hold flag, FOLIO sends none).
    holds_queued: int | None = None


@dataclass(frozen=True)
class Contact:
    """How to reach a patron. Personal data: never log it; drop it when the pickup is done."""

    email: str | None = None
    phone: str | None = None
    language: str | None = None

    @property
    def reachable(self) -> bool:
        return bool(self.email or self.phone)


@dataclass(frozen=True)
class PatronCheck:
    """The answer to "is this card valid, is this PIN right, may this patron borrow?".

    ``pin_ok`` is None when the ILS did not say (it then must be treated as *not* verified).
    ``block_reasons`` are plain-language reasons ("card reported lost", "too many items
    charged"), empty when the patron may borrow.
    """

    patron: str
    known: bool
    pin_ok: bool | None
    blocked: bool
    block_reasons: tuple[str, ...] = ()
    fines: Decimal | None = None
    language: str | None = None
    contact: Contact | None = None
    screen_message: str | None = None

    @property
    def may_borrow(self) -> bool:
        return self.known and self.pin_ok is True and not self.blocked


class CheckoutKind(StrEnum):
    LOANED = "loaned"
    RENEWED = "renewed"  # it was already on loan to this patron
    FEE_NEEDS_ACKNOWLEDGEMENT = "fee_needs_acknowledgement"  # repeat with fee_acknowledged=True
    REFUSED = "refused"  # blocked patron, item on hold for someone else, unknown item ...


@dataclass(frozen=True)
class CheckoutOutcome:
    ok: bool
    kind: CheckoutKind
    item: str
    patron: str
    due: datetime | None = None
    fee: Decimal | None = None
    screen_message: str | None = None


@dataclass(frozen=True)
class IlsHealth:
    """Whether the ILS can circulate now, for health pages and readiness.

    ``up``: it answered our login and status request. ``warnings``: what its status reply
    says beside that (check-in not allowed, offline...), shown to staff; real servers send
    such flags for policy reasons while circulating, so they never make it "down".
    ``problem``: why it is down, in words staff can act on.
    """

    up: bool
    warnings: tuple[str, ...] = ()
    problem: str | None = None


# --- the interface ------------------------------------------------------------------------


@runtime_checkable
class IlsAdapter(Protocol):
    """One ILS, as seen by the locker flows.

    Every method may raise :class:`IlsUnavailable`; state-changing methods (``checkin``,
    ``checkout``) may also raise :class:`OutcomeUnknown`; :class:`IlsRejected` when the ILS
    refuses the request as such.
    """

    profile: IlsProfile

    def ping(self) -> bool:
        """True when the ILS answers (SIP2: our login and a status request)."""
        ...

    def checkin(
        self, item: str, *, at: str, returned_at: datetime, replayed: bool = False
    ) -> CheckinOutcome:
        """Check ``item`` in at branch / pickup location ``at``, backdated to ``returned_at``.

        ``replayed=True`` only when replaying a deposit stored while the ILS was down: it
        asks the ILS to skip its loan rules (SIP2 no-block), so keep that queue bounded.
        """
        ...

    def item_status(self, item: str) -> ItemStatus: ...

    def verify_patron(self, patron: str, pin: str) -> PatronCheck:
        """Check card and PIN. The PIN is sent to the ILS only; never stored or logged."""
        ...

    def checkout(
        self,
        patron: str,
        item: str,
        *,
        fee_acknowledged: bool = False,
        offline_at: datetime | None = None,
    ) -> CheckoutOutcome:
        """Lend ``item`` to ``patron``. Verify the PIN with ``verify_patron`` first.

        ``offline_at``: the loan was made while the ILS was unreachable, at that time; it is
        sent as such (SIP2 no-block, transaction date = ``offline_at``), so the ILS records it
        whatever its loan rules say now. Only for the bounded offline-loan queue.
        """
        ...

    def patron_contact(self, patron: str) -> Contact | None:
        """Email / phone / language for notices, or None if the patron is unknown."""
        ...

    def loans_of(self, patron: str) -> tuple[str, ...]:
        """The barcodes on loan to ``patron`` (SIP2 63, charged items): how a sender tells
        its own loan that went through from someone else's, which item status cannot."""
        ...


def lent_to(ils: IlsAdapter, patron: str, item: str) -> tuple[bool, ItemStatus]:
    """Whether ``item`` is on loan to ``patron`` now, with the item's status: how a checkout
    whose reply was lost (:class:`OutcomeUnknown`) is settled.

    Item information says the item is on loan, not to whom; the patron's loans do. Taking any
    loan for ours would hand over, as lent to this patron, an item the ILS has lent to someone
    else. The patron's loans are asked for only when the item is on loan at all.
    """
    status = ils.item_status(item)
    return status.status.on_loan and item in ils.loans_of(patron), status
