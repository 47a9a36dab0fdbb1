"""Returns: a deposit is stored durably first, then checked in by a background job.

- ``recording``: :func:`~bridge.services.returns.recording.record_deposit` (the door closed on
  a returned item), and the retention backstop for the patron↔item link;
- ``checkin``: the worker's check-in of one deposit (called by the rq job), each attempt two
  short transactions around the ILS call, and the replay of deposits waiting for the ILS;
- ``findings``: what the ILS answers, and what that makes of the deposit (checked in, or why
  staff must handle it), looking the item up first when an earlier reply may have been lost;
- ``worklist``: the staff page's backlog and the deposits staff must handle.

The rules (docs/returns.md; docs/architecture.md, Return): the check-in is backdated to the
deposit time and sent with the bank's branch as location; an old deposit, or one whose earlier
check-in may have been applied (reply lost, worker died), is looked up with item status first,
so no item is checked in twice and no loan started after the deposit is closed by it. No-block
check-in is never used.
"""
