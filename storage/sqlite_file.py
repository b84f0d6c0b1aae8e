"""Where the SQLite store's file is: its URL, and its directory (created only when safe)."""

from __future__ import annotations

from pathlib import Path

from storage.base import StoreError


def sqlite_path(url: str) -> str:
    """`sqlite:///./x.db` -> `./x.db`, `sqlite:////data/x.db` -> `/data/x.db`."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ValueError(f"not a sqlite URL: {url!r}")
    path = url[len(prefix) :]
    if not path:
        raise ValueError("sqlite URL names no file")
    return path


def make_parent(path: Path) -> None:
    """Create a missing directory for the file only inside the working directory (`./data/`):
    elsewhere a missing directory is more likely a typo or an unmounted volume than a wish."""
    parent = path.parent
    if parent.is_dir():
        return
    if not parent.resolve().is_relative_to(Path.cwd().resolve()):
        raise StoreError(f"sqlite: directory {parent} does not exist")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"sqlite: cannot create {parent} ({e.strerror})") from e
