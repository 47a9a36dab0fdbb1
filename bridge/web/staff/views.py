"""Status page, polled fragments, work lists, compartment actions, audit log and charts."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError

from bridge.alerts.check import open_alerts
from bridge.services.staff.accounts import Role, StaffUser
from bridge.storage.db import unit_of_work
from bridge.web import security
from bridge.web.staff import actions, auditlog, charts, overview, queries
from bridge.web.staff.filters import iso
from bridge.web.staff.pages import bp

POLL_SECONDS = 5  # the grid and health panel refresh this often (app config may lower it)


def _user() -> StaffUser:
    user = security.signed_in_user()
    if user is None:  # require_role ran first; this is for the type checker
        abort(401)
    return user


def _zones() -> dict[str, str]:
    return {b.id: b.timezone for b in security.runtime().settings.banks}


def _bank_ids() -> list[str]:
    return [b.id for b in security.runtime().settings.banks]


@bp.errorhandler(CSRFError)
def csrf_refused(exc: CSRFError) -> ResponseReturnValue:
    return render_template("staff/refused.html", reason=exc.description), 400


@bp.app_template_global()
def staff_user() -> StaffUser | None:
    return security.signed_in_user()


@bp.get("/")
@security.require_role(Role.VIEWER)
def status() -> ResponseReturnValue:
    """Health, then one line per bank (a page of them, searchable); the grids themselves only
    when the deployment has a few banks, otherwise on each bank's page."""
    rt = security.runtime()
    query = request.args.get("q", "")
    page = request.args.get("page", "1")
    with unit_of_work(rt.sessions) as s:
        banks = overview.overview(s, query, int(page) if page.isdigit() else 1)
        grids = []
        if len(rt.settings.banks) <= overview.INLINE_GRIDS_MAX_BANKS:
            grids = queries.bank_grids(s, rt.clock(), _user().role)
        health = queries.health(rt, s)
        work = queries.work_summary(s)
    return render_template(
        "staff/status.html",
        overview=banks,
        grids=grids,
        health=health,
        work=work,
        zones=_zones(),
        poll=_poll(),
    )


def _poll() -> int:
    poll: int = current_app.config.get("LOCKERBRIDGE_POLL_SECONDS", POLL_SECONDS)
    return poll


@bp.get("/banks/<bank_id>")
@security.require_role(Role.VIEWER)
def bank(bank_id: str) -> ResponseReturnValue:
    """One bank's grid: its cost depends on that bank's doors only, not on how many banks."""
    rt = security.runtime()
    with unit_of_work(rt.sessions) as s:
        grids = queries.bank_grids(s, rt.clock(), _user().role, [bank_id])
    if not grids:
        abort(404)
    return render_template("staff/bank.html", grid=grids[0], zones=_zones(), poll=_poll())


@bp.get("/fragments/grid/<bank_id>")
@security.require_role(Role.VIEWER)
def grid_fragment(bank_id: str) -> ResponseReturnValue:
    rt = security.runtime()
    with unit_of_work(rt.sessions) as s:
        grids = queries.bank_grids(s, rt.clock(), _user().role, [bank_id])
    if not grids:
        abort(404)
    return render_template("staff/_grid.html", grid=grids[0], zones=_zones())


@bp.get("/fragments/health")
@security.require_role(Role.VIEWER)
def health_fragment() -> ResponseReturnValue:
    rt = security.runtime()
    with unit_of_work(rt.sessions) as s:
        health = queries.health(rt, s)
        work = queries.work_summary(s)
    return render_template("staff/_health.html", health=health, work=work, zones=_zones())


@bp.get("/work")
@security.require_role(Role.VIEWER)
def work() -> ResponseReturnValue:
    rt = security.runtime()
    names = {b.id: b.name for b in rt.settings.banks}
    bank_id = request.args.get("bank") or None
    if bank_id is not None and bank_id not in names:
        abort(404)
    lists = queries.work_lists(rt, _user().role, bank_id=bank_id)
    alerts = [a for a in open_alerts(rt) if bank_id is None or a.bank_id in (None, bank_id)]
    return render_template(
        "staff/work.html",
        work=lists,
        alerts=alerts,
        zones=_zones(),
        bank_names=names,
        bank_id=bank_id,
    )


@bp.get("/banks/<bank_id>/<int:number>")
@security.require_role(Role.VIEWER)
def compartment(bank_id: str, number: int) -> ResponseReturnValue:
    rt = security.runtime()
    with unit_of_work(rt.sessions) as s:
        grids = queries.bank_grids(s, rt.clock(), _user().role, [bank_id])
        cell = next((c for g in grids for c in g.cells if c.number == number), None)
        if cell is None:
            abort(404)
        recent = auditlog.events(s, auditlog.AuditFilter(bank_id=bank_id), limit=500)
    history = [e for e in recent if e.compartment == number][:20]
    return render_template(
        "staff/compartment.html",
        bank=grids[0],
        cell=cell,
        history=history,
        zones=_zones(),
        unlocks_left=max(
            0, rt.settings.web.remote_unlocks_per_hour - actions.unlocks_in_last_hour(rt)
        ),
    )


def _back(bank_id: str, number: int) -> ResponseReturnValue:
    return redirect(url_for("staff.compartment", bank_id=bank_id, number=number))


@bp.post("/banks/<bank_id>/<int:number>/unlock")
@security.require_role(Role.ADMIN)  # only administrators (signed in with a second factor)
def unlock(bank_id: str, number: int) -> ResponseReturnValue:
    try:
        actions.remote_unlock(
            security.runtime(),
            _user(),
            bank_id,
            number,
            request.form.get("reason", "")[:300],
            request.form.get("code", "")[:12],
        )
    except actions.ActionRefused as exc:
        flash(str(exc), "error")
    else:
        flash(f"Door {number} is open. The unlock was logged.", "ok")
    return _back(bank_id, number)


@bp.post("/banks/<bank_id>/<int:number>/service")
@security.require_role(Role.STAFF)
def service(bank_id: str, number: int) -> ResponseReturnValue:
    out = request.form.get("out") == "1"
    try:
        state = actions.set_out_of_service(
            security.runtime(), _user(), bank_id, number, out, request.form.get("reason", "")[:300]
        )
    except actions.ActionRefused as exc:
        flash(str(exc), "error")
    else:
        flash(f"Compartment {number} is now: {state.replace('_', ' ')}.", "ok")
    return _back(bank_id, number)


def _back_to(bank_id: str, number: int) -> ResponseReturnValue:
    if request.form.get("back") == "work":
        return redirect(url_for("staff.work"))
    return _back(bank_id, number)


@bp.post("/banks/<bank_id>/<int:number>/remove")
@security.require_role(Role.STAFF)
def remove(bank_id: str, number: int) -> ResponseReturnValue:
    try:
        message = actions.remove_expired(security.runtime(), _user(), bank_id, number)
    except actions.ActionRefused as exc:
        flash(str(exc), "error")
    else:
        flash(message, "ok")
    return _back_to(bank_id, number)


@bp.post("/banks/<bank_id>/<int:number>/emptied")
@security.require_role(Role.STAFF)
def emptied(bank_id: str, number: int) -> ResponseReturnValue:
    try:
        actions.return_door_emptied(security.runtime(), _user(), bank_id, number)
    except actions.ActionRefused as exc:
        flash(str(exc), "error")
    else:
        flash(f"Return door {number} is empty and ready again.", "ok")
    return _back_to(bank_id, number)


@bp.post("/messages/<int:notification_id>/dismiss")
@security.require_role(Role.STAFF)
def dismiss_message(notification_id: int) -> ResponseReturnValue:
    try:
        actions.dismiss_message(security.runtime(), _user(), notification_id)
    except actions.ActionRefused as exc:
        flash(str(exc), "error")
    else:
        flash("The message is off the list.", "ok")
    return redirect(url_for("staff.work"))


def _mark_handled(resolve: Callable[..., None], ident: int, what: str) -> ResponseReturnValue:
    """A work-list entry marked handled by the signed-in staff member, with their note."""
    try:
        resolve(security.runtime(), _user(), ident, request.form.get("note", "")[:500])
    except actions.ActionRefused as exc:
        flash(str(exc), "error")
    else:
        flash(f"{what} {ident} is marked as handled.", "ok")
    return redirect(url_for("staff.work"))


@bp.post("/offline-loans/<int:loan_id>/resolve")
@security.require_role(Role.STAFF)
def resolve_offline_loan(loan_id: int) -> ResponseReturnValue:
    return _mark_handled(actions.resolve_offline_loan, loan_id, "Offline loan")


@bp.post("/deposits/<int:deposit_id>/resolve")
@security.require_role(Role.STAFF)
def resolve(deposit_id: int) -> ResponseReturnValue:
    return _mark_handled(actions.resolve_deposit, deposit_id, "Deposit")


# --- audit log and charts ---------------------------------------------------------------------


@bp.get("/audit")
@security.require_role(Role.STAFF)
def audit() -> ResponseReturnValue:
    rt = security.runtime()
    flt = auditlog.AuditFilter.from_args(request.args)
    with unit_of_work(rt.sessions) as s:
        rows = auditlog.events(s, flt)
        kinds = auditlog.kinds(s)
    return render_template(
        "staff/audit.html",
        rows=rows,
        kinds=kinds,
        flt=flt,
        banks=rt.settings.banks,
        page_size=auditlog.PAGE_SIZE,
    )


@bp.get("/audit.csv")
@security.require_role(Role.STAFF)
def audit_csv() -> ResponseReturnValue:
    rt = security.runtime()
    flt = auditlog.AuditFilter.from_args(request.args)

    def generate() -> Iterator[str]:
        with unit_of_work(rt.sessions) as s:
            yield from auditlog.csv_rows(s, flt)

    name = f"lockerbridge-audit-{rt.clock().date().isoformat()}.csv"
    return Response(
        generate(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/charts")
@security.require_role(Role.VIEWER)
def charts_page() -> ResponseReturnValue:
    rt = security.runtime()
    bank_id = request.args.get("bank") or None
    if bank_id is not None and bank_id not in _bank_ids():
        bank_id = None
    days = 30 if request.args.get("days") == "30" else 14
    with unit_of_work(rt.sessions) as s:
        data = auditlog.daily(s, bank_id, rt.clock().date(), days)
    labels = [d.strftime("%d %b") for d in data.days]
    return render_template(
        "staff/charts.html",
        data=data,
        labels=labels,
        bank_id=bank_id,
        days=days,
        banks=rt.settings.banks,
        pickups=charts.bar_chart(
            "chart-pickups", "Pickups per day", labels, data.pickups, "pickups"
        ),
        returns=charts.bar_chart(
            "chart-returns", "Returns per day", labels, data.returns, "returns"
        ),
        dwell=charts.bar_chart(
            "chart-dwell", "Median wait before pickup, per day", labels, data.dwell_hours, "hours"
        ),
    )


@bp.get("/compartments.json")
@security.require_role(Role.VIEWER)
def compartments_json() -> ResponseReturnValue:
    """The grid as data (for wall displays); same role masking as the page."""
    rt = security.runtime()
    with unit_of_work(rt.sessions) as s:
        grids = queries.bank_grids(s, rt.clock(), _user().role)
    return {
        "banks": [
            {
                "id": g.bank_id,
                "online": g.online,
                "compartments": [
                    {
                        "number": c.number,
                        "state": c.state,
                        "size": c.size,
                        "waited_seconds": int(c.waited.total_seconds()) if c.waited else None,
                        "expires_at": iso(c.expires_at) or None,
                        "fault": c.fault,
                        "discrepancy": c.discrepancy,
                    }
                    for c in g.cells
                ],
            }
            for g in grids
        ]
    }
