"""Inter-library loans through the lockers (docs/ill.md).

An ILL system tells us over NCIP that an item is coming for one of our patrons (AcceptItem,
``PickupLocation`` = a locker bank). We:

1. find the bank (``settings.routing`` or a bank's ``branch``), refuse unknown locations;
2. when the bank's ILS has ``ncip.url``, pass the AcceptItem on to it, which creates the
   temporary item and the hold (the item id it answers with is the barcode staff will scan);
3. record the loan and hold a compartment back for it (``bridge.services.transfers.announce``).

From there the item is an ordinary hold: scanned at the bank, loaded, the patron notified,
lent at pickup. When it comes back through a return compartment and the returns worker has
checked it in, the lending library is told with CheckInItem.

Each partner's loans are its own: a loan is known by (partner, RequestId agency, RequestId),
the partner being the one the credential authenticated, and no lookup made for a partner
reaches another partner's loans. AcceptItem is idempotent under that key.

- ``callers``: who calls /ncip (a shared secret or a client certificate), and whose loans a
  call may reach;
- ``responder``: the NCIP handler the /ncip route (``bridge.web.ncip``) answers with;
- ``loans``: what every use case knows of a loan: its open states, the lengths kept;
- ``accepting``: AcceptItem: a loan recorded, passed on to the ILS, a compartment held back;
- ``cancelling``: the partner checks the item in itself: the loan is over for us;
- ``notices``: the item came back: the lending library is told (CheckInItem), with retries.
"""
