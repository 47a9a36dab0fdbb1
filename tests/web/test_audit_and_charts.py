"""The audit log view, its CSV export, and the daily charts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow
from tests.web.conftest import sign_in


def _seed(rt):
    now = datetime.now(UTC).replace(microsecond=0)
    with unit_of_work(rt.sessions) as s:
        s.add(AuditEventRow(at=now - timedelta(days=3, hours=5), kind="compartment_state", bank_id="main-lobby", compartment=2, detail={"from": "reserved", "to": "loaded"}))
        s.add(AuditEventRow(at=now - timedelta(days=3, hours=1), kind="compartment_state", bank_id="main-lobby", compartment=2, detail={"from": "loaded", "to": "picked_up"}))
        s.add(AuditEventRow(at=now - timedelta(days=1), kind="deposit.recorded", bank_id="east-station", compartment=5, item="=HYPERLINK(1)", detail={"to": "recorded"}))
        s.add(AuditEventRow(at=now - timedelta(days=40), kind="remote_unlock", bank_id="main-lobby", compartment=1, actor="staff:old", detail={"why": "long ago"}))
    return now


def test_the_audit_log_filters_by_kind_bank_and_dates(client, accounts, rt):
    now = _seed(rt)
    sign_in(client, accounts[Role.STAFF])
    page = client.get("/staff/audit?bank=east-station").get_data(as_text=True)
    assert "deposit.recorded" in page and "picked_up" not in page
    since = (now - timedelta(days=10)).date().isoformat()
    page = client.get(f"/staff/audit?kind=remote_unlock&from={since}").get_data(as_text=True)
    assert "long ago" not in page and "No events match" in page
    page = client.get("/staff/audit?kind=remote_unlock").get_data(as_text=True)
    assert "long ago" in page


def test_the_csv_export_has_every_matching_row_and_defuses_formulas(client, accounts, rt):
    _seed(rt)
    sign_in(client, accounts[Role.STAFF])
    resp = client.get("/staff/audit.csv?bank=east-station")
    assert resp.mimetype == "text/csv" and "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert len(rows) == 1 and rows[0]["item"] == "'=HYPERLINK(1)"


def test_charts_count_pickups_returns_and_median_wait(client, accounts, rt):
    _seed(rt)
    sign_in(client, accounts[Role.VIEWER])
    html = client.get("/staff/charts").get_data(as_text=True)
    assert html.count("<svg") == 3 and 'role="img"' in html
    assert "1 pickups" in html and "1 returns" in html and "4 hours" in html
