"""``bench`` is not an installed package (``python -m bench`` runs from the checkout), so the
checkout goes on the import path for these tests."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = str(Path(__file__).resolve().parents[2])
if REPO not in sys.path:
    sys.path.insert(0, REPO)
