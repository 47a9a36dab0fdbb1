"""SIP2 for Lockerbridge: a lenient codec, a sans-I/O client session and a blocking client.

Start at :class:`sip2.client.SipClient`; the wire format lives in :mod:`sip2.codec`.
"""
