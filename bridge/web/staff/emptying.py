"""Emptying a return door by scanning (``/staff/banks/<bank>/returns/<door>``): each scan
shows the item's next step in large words (a transit slip to print when it travels) and
records it; see :mod:`bridge.services.emptying`."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from bridge.services import emptying
from bridge.services.staff.accounts import Role
from bridge.web import security
from bridge.web.staff import actions
from bridge.web.staff.actions import actor_of
from bridge.web.staff.loading import bank_or_404
from bridge.web.staff.pages import bp
from bridge.web.staff.return_words import destination_name, next_words

LAST_KEY = "emptying-last"


@bp.get("/banks/<bank_id>/returns/<int:number>")
@security.require_role(Role.STAFF)
def empty_return(bank_id: str, number: int) -> ResponseReturnValue:
    bank = bank_or_404(bank_id)
    rt = security.runtime()
    items = emptying.in_door(rt, bank.id, number)
    last = session.get(LAST_KEY)
    if not isinstance(last, dict) or last.get("door") != [bank.id, number]:
        last = None
    return render_template(
        "staff/empty_return.html",
        bank=bank,
        number=number,
        items=items,
        left=[i for i in items if not i.taken_out],
        last=last,
        today=rt.clock(),
        zone=bank.timezone,
        words=lambda step: next_words(rt.settings, step),
    )


@bp.post("/banks/<bank_id>/returns/<int:number>")
@security.require_role(Role.STAFF)
def empty_return_scan(bank_id: str, number: int) -> ResponseReturnValue:
    bank = bank_or_404(bank_id)
    user = security.signed_in_user()
    if user is None:
        abort(401)
    rt = security.runtime()
    barcode = (request.form.get("barcode") or "").strip()[:64]
    back = redirect(url_for("staff.empty_return", bank_id=bank.id, number=number))
    if not barcode:
        flash("Scan the barcode of an item you take out.", "error")
        return back
    try:
        done = emptying.take_out(rt, bank.id, number, barcode, actor_of(user))
    except emptying.NotInDoor:
        session.pop(LAST_KEY, None)
        flash(
            f"{barcode} is not among the returns of door {number} still to take out. "
            "Check the barcode; an item returned at the desk is not listed here.",
            "error",
        )
        return back
    session[LAST_KEY] = {
        "door": [bank.id, number],
        "item": done.item,
        "step": done.next.step,
        "words": next_words(rt.settings, done.next),
        "destination": destination_name(rt.settings, done.next.destination)
        if done.next.step == emptying.TRANSIT
        else None,
    }
    if not [i for i in emptying.in_door(rt, bank.id, number) if not i.taken_out]:
        try:
            actions.return_door_emptied(rt, user, bank.id, number)
        except actions.ActionRefused:
            pass  # already free (emptied meanwhile): nothing to change
        else:
            flash(f"Every return is out: door {number} takes returns again.", "ok")
    return back
