"""``lockerbridge sip2``: the staff SIP2 tool, connected as the configuration says.

``--bank BANK`` uses that bank's ILS connection (host, port, TLS, encoding, checksums, time
zone) and the bank's own SIP login; ``--ils NAME`` uses that ILS with the login of the first
bank on it. Without either, every connection option is given on the command line
(:mod:`sip2.cli`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace

from bridge.config import load_settings
from bridge.infra.ils_connection import server_config, sip_account
from sip2.cli import main


def run(config: str | None, argv: Sequence[str]) -> int:
    """Returns :func:`sip2.cli.main`'s exit status; 2 for an unknown bank or ILS."""

    picker = argparse.ArgumentParser(add_help=False)
    picker.add_argument("--bank")
    picker.add_argument("--ils")
    chosen, rest = picker.parse_known_args(list(argv))
    if not (chosen.bank or chosen.ils):
        return main(rest)
    settings = load_settings(config)

    if chosen.bank:
        try:
            bank = settings.bank(chosen.bank)
        except KeyError:
            known = ", ".join(b.id for b in settings.banks)
            print(f"sip2: no bank {chosen.bank!r} in the configuration ({known})", file=sys.stderr)
            return 2
        ils = settings.ils_for(bank.id)
    else:
        found = [i for i in settings.ils if i.name == chosen.ils]
        if not found:
            known = ", ".join(i.name for i in settings.ils)
            print(f"sip2: no ILS {chosen.ils!r} in the configuration ({known})", file=sys.stderr)
            return 2
        ils = found[0]
        on_it = [b for b in settings.banks if b.ils == ils.name]
        if not on_it:
            print(f"sip2: no bank uses ILS {ils.name!r}, so there is no SIP login", file=sys.stderr)
            return 2
        bank = on_it[0]
    # One question, then exit: no heartbeat, no session kept.
    server = replace(server_config(ils), heartbeat_interval=None)
    return main(rest, server=server, account=sip_account(bank, ils))
