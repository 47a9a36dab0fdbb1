"""Regenerates the initial migration from the models (allowed until the first release)."""

from __future__ import annotations

import tempfile

from alembic import command

from bridge.storage.migrate import MIGRATIONS, alembic_config

versions = MIGRATIONS / "versions"
for old in versions.glob("0001_*.py"):
    old.unlink()
with tempfile.TemporaryDirectory() as tmp:
    cfg = alembic_config(f"sqlite:///{tmp}/blank.db")
    command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
for new in versions.glob("0001_*.py"):
    text = new.read_text()
    text = text.replace("bridge.storage.base.UtcDateTime()", "bridge.storage.base.UtcDateTime()")
    # Sealed values are text in the database; the sealing lives in the model only.
    text = text.replace("bridge.storage.sealed.SealedJSON()", "sa.Text()")
    new.write_text(text)
    print(f"wrote {new}")
