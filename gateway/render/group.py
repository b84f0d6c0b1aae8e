"""What the parts of an alert-group message agree on: its severity, title, counts and matchers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from gateway.incident_model import Incident

_SEVERITY_RANK: Final = {
    **dict.fromkeys(("critical", "page", "error", "high"), 3),
    **dict.fromkeys(("warning", "medium"), 2),
    **dict.fromkeys(("info", "informational", "low", "none"), 1),
}
EMOJI: Final = {3: "🔴", 2: "🟠", 1: "🔵"}
RESOLVED: Final = "✅"
UNSEEN: Final = "resolved before it was seen firing"


def rank(labels: Mapping[str, str]) -> int:
    severity = labels.get("severity", "").lower()
    return _SEVERITY_RANK.get(severity, 2)


def severity(incident: Incident) -> tuple[int, str]:
    """The worst severity among firing alerts (all alerts once resolved), with its label."""
    pool = incident.firing or incident.alerts
    if not pool:
        return rank(incident.common_labels), incident.common_labels.get("severity", "")
    worst = max(pool, key=lambda a: rank(a.labels))
    return rank(worst.labels), worst.labels.get("severity", "")


def models(incident: Incident) -> list[str]:
    if incident.model:
        return [incident.model]
    return sorted({a.labels["model"] for a in incident.alerts if "model" in a.labels})


def _title(incident: Incident) -> str:
    names = Counter(a.name for a in incident.alerts)
    if len(names) == 1:
        return next(iter(names))
    if not names:
        return incident.group_labels.get("alertname", "Alert group")
    return f"{total(incident) + incident.truncated} alerts"


def total(incident: Incident) -> int:
    """Alerts of the group known here: the kept ones and those only counted."""
    return len(incident.alerts) + incident.omitted


def firing_count(incident: Incident) -> int:
    return len(incident.firing) + incident.omitted_firing


def subject(incident: Incident) -> str:
    """`ModelPSIHigh · fraud-detector`, or `ModelPSIHigh · 3 models`."""
    names = models(incident)
    many = f"{len(names)}{'+' if incident.omitted else ''} models"
    scope = names[0] if len(names) == 1 else many if names else ""
    return f"{_title(incident)} · {scope}" if scope else _title(incident)


def silence_labels(incident: Incident) -> dict[str, str]:
    """The matchers that silence this group: its group labels, else its common labels.

    An empty value means "label absent" to a matcher, so it is left out (Grafana sends
    `{"alertname": ""}` for a group whose alerts lack the label)."""
    group = {k: v for k, v in incident.group_labels.items() if v}
    return group or {k: v for k, v in incident.common_labels.items() if v}


def started(incident: Incident) -> datetime:
    return min((a.starts_at for a in incident.alerts), default=incident.opened_at)
