"""The ``lockerbridge`` command.

Every failure a person can fix (bad config, database or Redis down, port in use) ends in one
line on stderr naming what and where, and a non-zero exit.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from bridge.config import ConfigError, Settings, load_settings
from bridge.errors import Fatal

log = logging.getLogger("lockerbridge")


# Each command imports what it runs, inside its function: the command line starts in a fraction
# of the time the whole application takes to import, and `--help` or `user list` need none of it.


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from bridge.startup import placeholder_secrets
    from bridge.storage.db import check_connection, make_engine

    problems = [
        f"{name} is a placeholder: set a long random secret"
        for name in placeholder_secrets(settings)
    ]
    try:
        check_connection(make_engine(settings.database_url))
    except Exception as exc:
        problems.append(str(exc))
    if settings.redis_url != "embedded":
        from bridge.infra.redis_conn import connect

        try:
            connect(settings.redis_url, settings.redis_sentinels)
        except Exception as exc:
            problems.append(str(exc))
    if not args.no_ils:
        from bridge.entrypoints.ils_check import check_all

        found = check_all(settings, print, processes=args.processes)
        problems += found.problems
        for warning in found.warnings:
            print(f"warning: {warning}")
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if not problems:
        n = sum(len(b.all_compartments()) for b in settings.banks)
        print(
            f"configuration OK: {len(settings.banks)} bank(s), {n} compartment(s), "
            f"{len(settings.ils)} ILS connection(s)"
        )
    return 1 if problems else 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from bridge.storage.db import check_connection, make_engine
    from bridge.storage.migrate import upgrade

    engine = make_engine(settings.database_url)
    check_connection(engine)
    upgrade(engine)
    print("database schema is up to date")
    # Bank and compartment rows follow the configuration; Redis is not needed for that.
    from redis import Redis

    from bridge.runtime import Runtime
    from bridge.startup import sync_banks_once
    from bridge.storage.db import session_factory

    rt = Runtime(settings=settings, engine=engine, sessions=session_factory(engine), redis=Redis())
    sync_banks_once(rt)
    n = sum(len(b.all_compartments()) for b in settings.banks)
    print(f"{len(settings.banks)} bank(s) with {n} compartment(s) in step with the configuration")
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    from bridge.entrypoints.serve import serve_web

    return serve_web(_settings(args), host=args.host, port=args.port)


def cmd_worker(args: argparse.Namespace) -> int:
    from bridge.entrypoints.worker import run_worker

    return run_worker(_settings(args), with_scheduler=args.with_scheduler, burst=args.burst)


def cmd_scheduler(args: argparse.Namespace) -> int:
    from bridge.entrypoints.worker import run_scheduler

    return run_scheduler(_settings(args))


def cmd_demo(args: argparse.Namespace) -> int:
    from bridge.entrypoints.demo import run_demo

    return run_demo(port=args.port, directory=args.dir)


def cmd_acs(args: argparse.Namespace) -> int:
    from sip2.acs.cli import main as acs_main

    return acs_main(args.rest)


def cmd_sip2(args: argparse.Namespace) -> int:
    from bridge.entrypoints.sip2_command import run

    return run(args.config, args.rest)


def cmd_user(args: argparse.Namespace) -> int:
    from bridge.entrypoints.user_command import cli_user

    return cli_user(_settings(args), args)


def cmd_kiosk(args: argparse.Namespace) -> int:
    """Kiosk devices from the command line (the host's operator counts as an administrator)."""
    import getpass

    from bridge.runtime import Runtime
    from bridge.services.access import kiosks

    settings = _settings(args)
    rt = Runtime.from_settings(settings)
    actor = f"cli:{getpass.getuser()}"
    try:
        if args.kiosk_command == "enrol":
            try:
                device, token = kiosks.enrol(rt, args.bank, args.name, actor=actor)
            except KeyError:
                raise Fatal(f"no bank {args.bank!r} in the configuration") from None
            print(f"kiosk {device.id} ({device.name}) of {device.bank_id}; its token, shown once:")
            print(token)
        elif args.kiosk_command == "list":
            for d in kiosks.devices(rt):
                state = f"revoked {d.revoked_at:%Y-%m-%d %H:%M}" if d.revoked_at else "live"
                print(f"{d.id}\t{d.bank_id}\t{d.name}\t{d.created_by}\t{state}")
        elif not kiosks.revoke(rt, args.id, actor=actor):
            raise Fatal(f"no live kiosk {args.id}")
    finally:
        rt.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lockerbridge", description=__doc__)
    parser.add_argument(
        "-c",
        "--config",
        default=os.environ.get("LOCKERBRIDGE_CONFIG"),
        help="configuration file (TOML); default $LOCKERBRIDGE_CONFIG",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="run everything locally with sample data")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--dir", default="var/demo", help="where the demo keeps its files")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "web", help="serve the web app (development server; use gunicorn in production)"
    )
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=cmd_web)

    p = sub.add_parser("worker", help="run an rq worker for check-ins and notifications")
    p.add_argument("--with-scheduler", action="store_true", help="also run the periodic jobs")
    p.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("scheduler", help="run the periodic jobs (sweeper, expiry, retention)")
    p.set_defaults(func=cmd_scheduler)

    p = sub.add_parser("acs", help="run the reference SIP2 server", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_acs)

    p = sub.add_parser(
        "sip2",
        help="talk to a SIP2 server: ping|patron|item|checkin|checkout (--bank: as configured)",
        add_help=False,
    )
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_sip2)

    p = sub.add_parser("db", help="database schema")
    dsub = p.add_subparsers(dest="db_command", required=True)
    d = dsub.add_parser("upgrade", help="apply migrations (safe to run from many hosts)")
    d.set_defaults(func=cmd_db_upgrade)

    p = sub.add_parser(
        "check-config",
        help="validate the configuration and reach its services, each ILS with each bank's login",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=8,
        help="web, worker and scheduler processes that talk to the ILS (for the session budget)",
    )
    p.add_argument("--no-ils", action="store_true", help="do not contact the ILSs")
    p.set_defaults(func=cmd_check_config)

    from bridge.entrypoints.driver_probe import add_driver_parser

    add_driver_parser(sub)

    p = sub.add_parser("user", help="staff accounts")
    usub = p.add_subparsers(dest="user_command", required=True)
    u = usub.add_parser("add", help="create a staff account")
    u.add_argument("username")
    u.add_argument("--role", choices=["viewer", "staff", "admin"], default="staff")
    u.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin (implied when stdin is not a terminal)",
    )
    u.add_argument("--totp", action="store_true", help="enrol a TOTP second factor")
    u.set_defaults(func=cmd_user)
    u = usub.add_parser("list", help="every account, its role and whether it is active")
    u.set_defaults(func=cmd_user)
    for verb, words in (("disable", "sign an account out at once"), ("enable", "re-enable")):
        u = usub.add_parser(verb, help=words)
        u.add_argument("username")
        u.set_defaults(func=cmd_user)
    u = usub.add_parser("role", help="change an account's role (effective at once)")
    u.add_argument("username")
    u.add_argument("role", choices=["viewer", "staff", "admin"])
    u.set_defaults(func=cmd_user)
    u = usub.add_parser("reset-password", help="set a new password; ends the account's sessions")
    u.add_argument("username")
    u.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin (implied when stdin is not a terminal)",
    )
    u.set_defaults(func=cmd_user)
    u = usub.add_parser(
        "reset-totp", help="a new second factor (prints its URI once); ends the sessions"
    )
    u.add_argument("username")
    u.set_defaults(func=cmd_user)
    u = usub.add_parser("sessions", help="an account's live sessions (end them with disable)")
    u.add_argument("username")
    u.set_defaults(func=cmd_user)
    u = usub.add_parser("remove", help="delete an account for good; ends its sessions")
    u.add_argument("username")
    u.add_argument("--yes", action="store_true", help="do not ask (needed without a terminal)")
    u.set_defaults(func=cmd_user)

    p = sub.add_parser("kiosk", help="enrolled kiosk devices: enrol, list, revoke")
    ksub = p.add_subparsers(dest="kiosk_command", required=True)
    k = ksub.add_parser("enrol", help="a new kiosk token for a bank (shown once)")
    k.add_argument("bank")
    k.add_argument("name")
    k.set_defaults(func=cmd_kiosk)
    k = ksub.add_parser("list", help="every enrolled kiosk")
    k.set_defaults(func=cmd_kiosk)
    k = ksub.add_parser("revoke", help="revoke a kiosk at once")
    k.add_argument("id", type=int)
    k.set_defaults(func=cmd_kiosk)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command in ("acs", "sip2"):
        # Their own options (--port, --catalogue ...) belong to their own parsers.
        args.rest = [*extra, *args.rest]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    from bridge.infra.logs import setup_logging

    setup_logging(
        os.environ.get("LOCKERBRIDGE_LOG_LEVEL", "INFO"),
        os.environ.get("LOCKERBRIDGE_LOG_FORMAT", "text"),
    )
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"configuration error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # Start-up failures of outer systems have their own readable message.
        from bridge.infra.redis_conn import RedisUnavailable
        from bridge.storage.db import DatabaseUnavailable

        if isinstance(exc, (Fatal, DatabaseUnavailable, RedisUnavailable)):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
