"""The registry loop: Promote with four eyes, approved promotions, versions, `/chatops models`."""

__all__ = ["overview", "promote", "versions"]
