"""Telling the lending library its item came back.

When an ILL item comes back through a return compartment and the returns worker has checked it
in, :func:`on_checked_in` queues outbox work (kind ``ill_checkin``) whose job,
:func:`tell_partner`, sends CheckInItem to the partner's NCIP endpoint (``[[ill_partners]]``),
retrying with backoff until it answers.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session

from bridge.config import IllPartnerSettings
from bridge.infra import outbox
from bridge.runtime import Runtime
from bridge.services.banks import audit
from bridge.services.ill.callers import partner_for
from bridge.services.ill.loans import OUR_AGENCY
from bridge.storage.db import unit_of_work
from bridge.storage.tables.ill import IllRequestRow
from ils_adapters.base import IlsRejected, IlsUnavailable, OutcomeUnknown
from ils_adapters.ncip import Header, NcipClient, NcipMalformed

log = logging.getLogger(__name__)

OUTBOX_KIND = "ill_checkin"
MAX_ATTEMPTS = 20  # CheckInItem to a partner; about two hours of backoff, then staff


def partner_client(rt: Runtime, partner: IllPartnerSettings, our_agency: str) -> NcipClient:
    assert partner.url, "partner_client needs a partner with a url"
    url = partner.url

    def build() -> NcipClient:
        headers = {partner.secret_header: partner.shared_secret} if partner.shared_secret else {}
        return NcipClient(
            url,
            Header(our_agency, partner.agency),
            timeout=(3.05, partner.timeout_seconds),
            headers=headers,
        )

    client: NcipClient = rt.cached(f"ncip:partner:{partner.agency}:{our_agency}", build)
    return client


# Run for every check-in the ILS confirms (most items are no ILL loan), so built once.
_OPEN_LOAN_OF_ITEM = (
    select(IllRequestRow)
    .where(IllRequestRow.ils_item == bindparam("item"), IllRequestRow.state == "accepted")
    .order_by(IllRequestRow.id.desc())  # the newest: an older one may have ended at a desk
    .limit(1)
)


def on_checked_in(rt: Runtime, s: Session, item_barcode: str, now: datetime) -> int | None:
    """Called in the returns worker's transaction when the ILS has taken a deposit back.

    When the item is an open ILL loan, marks it returned and queues the CheckInItem to its
    partner (dispatched once ``s`` commits; the sweeper covers a lost dispatch). Returns the
    loan's id, or None when the item is not an ILL item.
    """
    row = s.scalars(_OPEN_LOAN_OF_ITEM, {"item": item_barcode}).first()
    if row is None:
        return None
    row.state, row.returned_at = "returned", now
    ref = str(row.id)
    outbox.add(s, OUTBOX_KIND, ref=ref, now=now)
    audit(
        s,
        "ill_returned",
        at=now,
        bank_id=row.bank_id,
        item=item_barcode,
        request=row.request_id,
        partner=row.partner,
    )
    event.listen(
        s, "after_commit", lambda _session: outbox.dispatch(rt, OUTBOX_KIND, ref), once=True
    )
    return row.id


def tell_partner(rt: Runtime, claim: outbox.Claim) -> str:
    """Sends CheckInItem for one returned ILL loan (outbox ``ill_checkin``); returns what
    happened. Unreachable partners are retried with backoff; a refusal, a partner without an
    endpoint, or ``MAX_ATTEMPTS`` failures end on the staff list (audit ``ill_partner_not_told``).
    Other errors release the claim for a retry and are raised."""
    with unit_of_work(rt.sessions) as s:
        row = s.get(IllRequestRow, int(claim.ref))
        if row is None or row.state != "returned":
            outbox.complete(s, claim, now=rt.clock())
            return "already done"
        partner_name, item, returned_at = row.partner, row.item, row.returned_at
        # The item is the lending library's: its own agency when it named one, else the partner.
        item_agency = row.item_agency or row.partner
        our_agency = row.to_agency
    partner = partner_for(rt.settings, partner_name)
    if partner is None or not partner.url:
        _not_told(rt, claim, f"no NCIP endpoint is configured for ILL partner {partner_name!r}")
        return "no endpoint"
    client = partner_client(rt, partner, partner.our_agency or our_agency or OUR_AGENCY)
    try:
        client.check_in_item(item=item, item_agency=item_agency, occurred_at=returned_at)
    except (IlsUnavailable, OutcomeUnknown, NcipMalformed) as exc:
        # CheckInItem is safe to repeat: the item is back either way.
        if claim.attempts >= MAX_ATTEMPTS:
            _not_told(rt, claim, f"gave up after {claim.attempts} attempts: {exc}")
            return "gave up"
        outbox.retry_later(rt, claim, f"{type(exc).__name__}: {exc}")
        return "retry"
    except IlsRejected as exc:
        _not_told(rt, claim, f"the partner refused: {exc}")
        return "refused"
    except Exception as exc:
        outbox.retry_later(rt, claim, f"{type(exc).__name__}: {exc}")
        raise
    now = rt.clock()
    with unit_of_work(rt.sessions) as s:
        row = s.get(IllRequestRow, int(claim.ref))
        assert row is not None
        row.state, row.closed_at = "closed", now
        row.patron = row.title = None
        audit(
            s,
            "ill_closed",
            at=now,
            bank_id=row.bank_id,
            item=row.ils_item,
            request=row.request_id,
            partner=row.partner,
        )
        outbox.complete(s, claim, now=now)
    return "told"


def _not_told(rt: Runtime, claim: outbox.Claim, why: str) -> None:
    now = rt.clock()
    log.warning("ILL loan %s: partner not told: %s", claim.ref, why)
    with unit_of_work(rt.sessions) as s:
        row = s.get(IllRequestRow, int(claim.ref))
        if row is not None:
            row.last_error = why[:300]
            audit(
                s,
                "ill_partner_not_told",
                at=now,
                bank_id=row.bank_id,
                item=row.ils_item,
                request=row.request_id,
                partner=row.partner,
                reason=why[:300],
            )
        outbox.give_up(s, claim, now=now, error=why)
