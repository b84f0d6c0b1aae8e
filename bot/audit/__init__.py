"""The audit trail (who asked, approved, started what, how it ended) and `/chatops audit`."""

__all__ = ["trail", "view"]
