"""Our client's overhead per checkin request, in microseconds, beside the raw round trip.

Both sides talk to the same reference ACS (``sip2/acs``, examples/catalogue.json), run as its
own process like a real ILS (in our process it would share our GIL and slow both sides), in the
same run, interleaved sample by sample so that machine noise hits both alike. The raw side
writes the exact frame our client sends and reads up to the reply's CR, nothing else. Our
client's overhead (building and checking the request, session, pool, decoding, typed result)
is the median over pairs of (our round trip - raw round trip). It is reported, not held to a
target: a catalogue takes from a millisecond to a second per request, so tens of microseconds
here are no reason to make the client harder to read.

Samples come in pairs, one round trip of each, and the order within a pair alternates (ours
then raw, raw then ours, ...; ABBA). Either kind of round trip runs slower right after the
other kind than after its own, by different amounts, so a fixed order biases the difference;
alternating, each side follows each kind equally often. 6,000 pairs (150 with ``--quick``),
after 20 warm-up pairs.
"""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.acs import reference_acs
from bench.figures import Figure, median
from sip2.client import SipClient
from sip2.codec import Message, encode
from sip2.config import ServerConfig, SipAccount
from sip2.dates import format_date

CATALOGUE = Path(__file__).resolve().parent.parent / "examples" / "catalogue.json"
ACCOUNT = SipAccount("lockers-main", "demo-main", location="MAIN-LOCKER", institution="DEMO")
ITEM = "39000000000001"
RETURNED = datetime(2024, 3, 1, 9, 15, tzinfo=UTC)


def _raw_frame() -> bytes:
    stamp = format_date(RETURNED)
    message = Message.build(
        "09",
        [("AP", ACCOUNT.location), ("AO", ACCOUNT.institution), ("AB", ITEM), ("AC", "")],
        no_block="N",
        transaction_date=stamp,
        return_date=stamp,
    )
    return encode(message)


class _RawSocket:
    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        login = Message.build(
            "93",
            [("CN", ACCOUNT.user), ("CO", ACCOUNT.password), ("CP", ACCOUNT.location)],
            uid_algorithm="0",
            pwd_algorithm="0",
        )
        self.round_trip(encode(login))

    def round_trip(self, frame: bytes) -> bytes:
        self.sock.sendall(frame)
        data = b""
        while not data.endswith(b"\r"):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("ACS closed the connection")
            data += chunk
        return data

    def close(self) -> None:
        self.sock.close()


def measure(samples: int) -> tuple[list[float], list[float]]:
    """Seconds per checkin round trip: (ours, raw), ``samples`` pairs, alternating order."""
    ours: list[float] = []
    raw: list[float] = []
    clock = time.perf_counter
    with reference_acs(CATALOGUE, behaviour="evergreen") as (host, port):
        server = ServerConfig(host, port, request_timeout=5.0, heartbeat_interval=None)
        frame = _raw_frame()
        baseline = _RawSocket((host, port))
        with SipClient.for_server(server, ACCOUNT, clock=lambda: RETURNED) as client:
            checkin = client.checkin
            location = ACCOUNT.location
            for _ in range(20):  # warm up both paths (login, caches)
                checkin(ITEM, location=location, returned_at=RETURNED)
                baseline.round_trip(frame)
            for index in range(samples):
                # ABBA: even pairs ours first, odd pairs raw first, so that each side follows
                # a round trip of either kind equally often.
                if index % 2 == 0:
                    start = clock()
                    checkin(ITEM, location=location, returned_at=RETURNED)
                    middle = clock()
                    baseline.round_trip(frame)
                    end = clock()
                    ours.append(middle - start)
                    raw.append(end - middle)
                else:
                    start = clock()
                    baseline.round_trip(frame)
                    middle = clock()
                    checkin(ITEM, location=location, returned_at=RETURNED)
                    end = clock()
                    raw.append(middle - start)
                    ours.append(end - middle)
        baseline.close()
    return ours, raw


def run(quick: bool) -> list[Figure]:
    ours, raw = measure(150 if quick else 6000)
    overhead = [(o - r) * 1e6 for o, r in zip(ours, raw, strict=True)]
    raw_us = median(raw) * 1e6
    reproduce = "python -m bench --only sip2_roundtrip"
    return [
        Figure(
            name="SIP2 checkin, our client's overhead per request",
            value=median(overhead),
            unit="us",
            baseline=(
                f"raw socket round trip of the same 09 frame to the same reference ACS, "
                f"median {raw_us:.0f} µs (ours {median(ours) * 1e6:.0f} µs)"
            ),
            reproduce=reproduce,
            samples=overhead,
            plot="distribution",
        ),
        Figure(
            name="SIP2 checkin, raw socket round trip",
            value=raw_us,
            unit="us",
            reproduce=reproduce,
            samples=[r * 1e6 for r in raw],
            plot="distribution",
        ),
    ]


if __name__ == "__main__":
    for fig in run(quick=True):
        print(f"{fig.name}: {fig.value:.1f} {fig.unit}", fig.baseline or "")
