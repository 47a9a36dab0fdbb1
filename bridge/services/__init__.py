"""Service layer: one function per use case, one transaction per use case."""
