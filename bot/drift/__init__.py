"""`/drift status`: drift numbers per model, read from Prometheus."""

__all__ = ["prometheus", "status"]
