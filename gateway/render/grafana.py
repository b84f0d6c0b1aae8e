"""What a Grafana alert adds to the alert-group message: values, links, image, test notices.

Grafana sends, per alert, the rule's query values (`values`, and `valueString` as text), links to
its dashboard and panel, a link to silence it in Grafana (`silenceURL`) and, when the rule takes
screenshots, an image URL. Only http(s) URLs become links or an image block; credentials in a URL
are never shown (`safe_url`).

Slack downloads an image block's URL itself and refuses the whole message (`invalid_blocks`,
"downloading image failed") when it cannot, so an image on a host Slack surely cannot reach
(localhost, a private or loopback address, a cluster-internal name) is shown as a link instead:
the incident message is never lost to a screenshot.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Mapping
from typing import Final

from gateway.incident_model import AlertSnapshot, Incident, Status
from slackio.blocks import (
    Block,
    Rendered,
    clip,
    context,
    escape,
    header_block,
    link,
    one_line,
    safe_url,
    section,
)

_MAX_IMAGES: Final = 3
_MAX_VALUES_SHOWN: Final = 8
_INTERNAL_SUFFIXES: Final = (".local", ".internal", ".svc", ".cluster.local", ".lan", ".localhost")


def _number(value: float) -> str:
    return f"{value:.6g}"


def value_text(alert: AlertSnapshot) -> str:
    """`Value: B=44.2394, C=1` from `values`, else Grafana's `valueString`; "" without either."""
    info = alert.grafana
    if info is None:
        return ""
    if info.values:
        shown = ", ".join(f"{k}={_number(v)}" for k, v in info.values[:_MAX_VALUES_SHOWN])
        hidden = len(info.values) - _MAX_VALUES_SHOWN
        more = f" +{hidden} more" if hidden > 0 else ""
        return f"Value: `{escape(clip(shown, 400))}`{more}"
    text = one_line(info.value_string)
    return f"Value: `{escape(clip(text, 400))}`" if text else ""


def alert_links(alert: AlertSnapshot) -> list[str]:
    """The alert's Dashboard and Panel links, and its image when Slack cannot fetch it."""
    info = alert.grafana
    if info is None:
        return []
    pairs = [(info.dashboard_url, "Dashboard"), (info.panel_url, "Panel")]
    if info.image_url and not slack_can_fetch(info.image_url):
        pairs.append((info.image_url, "📷 Image"))
    return [link(url, label) for url, label in pairs if url and safe_url(url)]


def slack_can_fetch(url: str) -> bool:
    """An http(s) URL on a host that may be public (Slack fetches image blocks itself)."""
    if safe_url(url) is None:
        return False
    host = (urllib.parse.urlsplit(safe_url(url) or "").hostname or "").lower().rstrip(".")
    if not host or "." not in host or host.endswith(_INTERNAL_SUFFIXES):
        return False  # localhost, a single-label name, a cluster or LAN name
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    return address.is_global


def image_blocks(incident: Incident) -> list[Block]:
    """An image block per firing alert with an http(s) `imageURL` (a few at most)."""
    blocks: list[Block] = []
    pool = incident.firing or incident.alerts
    for alert in pool:
        url = safe_url(alert.grafana.image_url) if alert.grafana else None
        if url is None or not slack_can_fetch(url) or len(blocks) >= _MAX_IMAGES:
            continue
        alt = clip(f"{alert.name} (Grafana panel)", 200)
        blocks.append(
            {
                "type": "image",
                "block_id": f"chatops.image.{len(blocks)}",
                "image_url": url,
                "alt_text": alt,
            }
        )
    return blocks


def silence_url(incident: Incident, labels: Mapping[str, str]) -> str | None:
    """Grafana's own "new silence" page: the alert's `silenceURL` when the group has one
    alert, else Grafana's page pre-filled with the group's labels."""
    urls = {a.grafana.silence_url for a in incident.firing if a.grafana and a.grafana.silence_url}
    if len(incident.firing) == 1 and len(urls) == 1:
        return safe_url(urls.pop())
    base = safe_url(incident.external_url)
    if base is None or not labels:
        return None
    query = [("alertmanager", "grafana")]
    query += [("matcher", f"{k}={v}") for k, v in sorted(labels.items())]
    if incident.grafana is not None and incident.grafana.org_id:
        query.append(("orgId", str(incident.grafana.org_id)))
    return f"{base.rstrip('/')}/alerting/silence/new?{urllib.parse.urlencode(query)}"


def source_links(incident: Incident, labels: Mapping[str, str]) -> list[str]:
    """Silence in Grafana (while firing) and Grafana itself."""
    links = []
    url = silence_url(incident, labels) if incident.status is Status.FIRING else None
    if url:
        links.append(link(url, "🔕 Silence in Grafana"))
    if safe_url(incident.external_url):
        links.append(link(incident.external_url, "Grafana"))
    return links


def render_test_notification(incident: Incident) -> Rendered:
    """The contact point's "Test" button: say it arrived, and show what it carried."""
    alert = incident.alerts[0] if incident.alerts else None
    contact = escape(clip(incident.receiver or "this contact point", 100))
    text = (
        f"Grafana's contact point *{contact}* reaches chatops: alerts routed to it will be "
        "posted here, one message per alert group, updated when they resolve."
    )
    blocks: list[Block] = [header_block("🧪 Test notification from Grafana")]
    blocks.append(section(text, block_id="chatops.test"))
    details = []
    if alert is not None:
        summary = one_line(alert.annotations.get("summary", ""))
        details.append(escape(clip(summary or alert.name, 200)))
        details.append(value_text(alert))
    if safe_url(incident.external_url):
        details.append(link(incident.external_url, "Grafana"))
    shown = [d for d in details if d]
    if shown:
        blocks.append(context([" · ".join(shown)], block_id="chatops.test.details"))
    return Rendered(text=f"🧪 Test notification from Grafana ({contact})", blocks=blocks)
