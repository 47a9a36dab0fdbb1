"""What every inter-library loan use case knows of a loan: which states are open, how we name
ourselves, and how long a value the loan table keeps.
"""

from __future__ import annotations

from bridge.storage.tables.ill import IllRequestRow

OUR_AGENCY = "lockerbridge"  # how we name ourselves when nothing better is known
OPEN = ("forwarding", "accepted")


def column_limit(column: str) -> int:
    length: int = IllRequestRow.__table__.c[column].type.length  # type: ignore[attr-defined]
    return length
