"""Storage: SQLAlchemy models, sessions and Alembic migrations (SQLite and PostgreSQL)."""
