"""Infrastructure adapters: Redis, logging, metrics, the outbox, crash points, SIP2 settings."""
