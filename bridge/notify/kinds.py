"""What messages exist, the channels they go by, and which facts are secret."""

from __future__ import annotations

from enum import StrEnum


class MessageKind(StrEnum):
    READY_FOR_PICKUP = "ready_for_pickup"  # items loaded; code, QR, door, expiry
    REMINDER = "reminder"  # before the hold-shelf expiry
    EXPIRED = "expired"  # not collected; back to the hold shelf
    PICKED_UP = "picked_up"  # pickup confirmation
    EQUIPMENT_DUE = "equipment_due"  # a lent device is due back
    RETURN_RECEIPT = "return_receipt"  # a deposit was checked in (when the depositor is known)
    DAYUSE_ENDING = "dayuse_ending"  # a day-use reservation ends soon (services.dayuse)


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


# Facts that open a door. They live in the notification row only until the message is sent.
SECRET_FACTS = frozenset({"code", "qr_token", "phone_url"})

# Facts the shipped templates understand. Anything else is passed through to templates too.
KNOWN_FACTS = (
    "titles",  # list of item titles
    "doors",  # list of compartment numbers
    "code",  # typed pickup code (secret)
    "qr_token",  # what the QR code encodes (secret)
    "expires",  # ISO date or datetime: hold-shelf expiry
    "due",  # ISO date or datetime: equipment due back
    "returned_at",  # ISO datetime of the deposit
    "items",  # count, when titles are unknown
    "picked_up_at",  # ISO datetime of the pickup
    "loans",  # [{title, due}]: what a pickup lent, each with its due date (the receipt)
    "phone_url",  # link to the phone page (secret; bridge.services.access.phone)
    "ends_at",  # ISO datetime: a day-use reservation ends
    "reissued",  # true: a new code for items already announced
    "replaces_sent_at",  # ISO datetime: when the message whose code this one replaces left
    "due_follows",  # true: lent while the ILS was down; a message with the due dates follows
    "recorded_later",  # true: the ILS has now recorded loans made while it was down
)
