"""The locker domain: compartments, allocation, access codes, guessing limits, safety rules.

Pure domain code plus hardware drivers (``lockers.drivers``). Nothing here knows Flask, SQL or
SIP2: the clock and randomness are passed in, and storage sits behind small ``Protocol``s that
the service layer maps onto its database.
"""
