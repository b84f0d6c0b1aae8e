"""What one doctor check finds, and how the report shows it (one line each, secrets blanked)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from urls import without_userinfo

PASS, FAIL, SKIP = "✓", "✗", "\u2013"  # en dash
REDACTED = "[redacted]"


@dataclass(frozen=True)
class Check:
    """One finding: `ok` False fails the doctor; a skipped check is ok and says why (`detail`)."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    skipped: bool = False

    @property
    def line(self) -> str:
        """The report line: mark, name, what was found, and what to do about a failure."""
        if self.skipped:
            return f"{SKIP}  {self.name}: skipped: {self.detail}"
        text = f"{PASS if self.ok else FAIL} {self.name}: {self.detail}"
        return f"{text} → {self.fix}" if self.fix and not self.ok else text


def passed(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, False, detail, fix)


def skipped(name: str, why: str) -> Check:
    return Check(name, True, why, skipped=True)


def report(checks: Sequence[Check], secrets: Iterable[str]) -> str:
    """Every check's line, with any secret value that slipped into a message blanked."""
    hidden = sorted((s for s in secrets if s), key=len, reverse=True)
    lines = []
    for check in checks:
        line = check.line
        for secret in hidden:
            line = line.replace(secret, REDACTED)
        lines.append(line)
    failures = sum(1 for c in checks if not c.ok)
    lines.append(f"{failures} problem(s) found" if failures else "all checks passed")
    return "\n".join(lines)


def shown(url: str) -> str:
    """A URL fit for the report: no user:password, no query string."""
    parts = urlsplit(without_userinfo(url))
    return parts._replace(query="", fragment="").geturl()
