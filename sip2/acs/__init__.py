"""A reference SIP2 server (ACS) that behaves like Koha, Evergreen or FOLIO, for tests and demos.

- :mod:`sip2.acs.catalogue` / :mod:`sip2.acs.catalogue_file`: what the ACS knows, from JSON;
- :mod:`sip2.acs.circulation`: the rules; :mod:`sip2.acs.engine`: request in, reply out;
- :mod:`sip2.acs.server`: the TCP server with switchable faults; :mod:`sip2.acs.cli`: the command.
"""
