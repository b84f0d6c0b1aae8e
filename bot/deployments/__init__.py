"""What was deployed where (the ledger), and which deployment a `/rollback` goes back to."""

__all__ = ["ledger", "rollback"]
