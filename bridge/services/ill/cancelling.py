"""CheckInItem from the partner: the lending library checked its item in, so the loan is over
for us (an item still on its way stops holding a compartment; one already inside goes on the
staff list).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select

from bridge.runtime import Runtime
from bridge.services import transfers
from bridge.services.banks import audit
from bridge.services.ill.callers import Caller, partner_of
from bridge.services.ill.loans import OPEN, column_limit
from bridge.storage.db import unit_of_work
from bridge.storage.tables.ill import IllRequestRow
from bridge.storage.tables.lockers import LoadRow
from ils_adapters.ncip import CheckInItemDone, CheckInItemRequest, NcipProblem


def partner_check_in(
    rt: Runtime, request: CheckInItemRequest, caller: Caller
) -> CheckInItemDone | NcipProblem:
    """The partner checked its item in: the loan is over for us.

    An item still on its way stops holding a compartment; one already inside a compartment is
    put on the staff list (it must be taken out and sent back). Repeats answer the same.
    The item is named by its barcode, or by the ILL request id when ItemIdentifierType says so.
    A partner credential only reaches that partner's loans.
    """
    now = rt.clock()
    if len(request.item) > column_limit("item"):
        return NcipProblem(
            "Unknown Item",
            f"no item id here is longer than {column_limit('item')} characters",
            "ItemId",
            request.item[: column_limit("item")],
        )
    with unit_of_work(rt.sessions) as s:
        q = select(IllRequestRow).where(_names_item(request))
        partner = partner_of(caller, request.header)
        if partner is not None:
            q = q.where(IllRequestRow.partner == partner)
        rows = list(s.scalars(q.order_by(IllRequestRow.id.desc())))
        if not rows:
            return NcipProblem(
                "Unknown Item", "no inter-library loan has this item", "ItemId", request.item
            )
        row = next((r for r in rows if r.state in OPEN), rows[0])
        if row.state not in OPEN:
            return CheckInItemDone()
        row.state, row.closed_at = "cancelled", now
        row.patron = row.title = None
        transfers.arrived(s, row.ils_item)  # an item never arrived holds nothing any more
        audit(
            s,
            "ill_cancelled",
            at=now,
            bank_id=row.bank_id,
            actor=caller.label,
            item=row.ils_item,
            request=row.request_id,
        )
        inside = s.scalars(
            select(LoadRow).where(
                LoadRow.item_barcode == row.ils_item, LoadRow.state.in_(("reserved", "loaded"))
            )
        ).first()
        if inside is not None:
            audit(
                s,
                "staff_attention",
                at=now,
                bank_id=inside.bank_id,
                compartment=inside.compartment,
                actor=caller.label,
                item=row.ils_item,
                reason="the lending library checked this inter-library loan in: take it out",
            )
    return CheckInItemDone()


def _names_item(request: CheckInItemRequest) -> ColumnElement[bool]:
    """Which loans the CheckInItem's ItemId names: by the ILL request id when its
    ItemIdentifierType says it is one (a value with "request" in it, as ILL systems name
    that type), else by the partner's item id or the barcode staff scan."""
    if request.item_type and "request" in request.item_type.casefold():
        return IllRequestRow.request_id == request.item
    return or_(IllRequestRow.item == request.item, IllRequestRow.ils_item == request.item)
