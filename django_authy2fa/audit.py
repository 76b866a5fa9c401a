"""Recording security events. Details never hold a code, a secret or a full phone number."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from .models import AuditEvent, EventType
from .throttling import client_ip

USER_AGENT_MAX = 255


@dataclass(frozen=True)
class ClientInfo:
    """Who is on the other end of a request: its IP (as trusted) and user agent."""

    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest | None) -> ClientInfo:
        if request is None:
            return cls()
        agent = request.META.get("HTTP_USER_AGENT", "")
        return cls(ip=client_ip(request), user_agent=agent[:USER_AGENT_MAX])


def record(
    event: EventType,
    *,
    user: Any = None,
    client: ClientInfo | None = None,
    method: str = "",
    actor: Any = None,
    **details: Any,
) -> AuditEvent:
    client = client or ClientInfo()
    return AuditEvent.objects.create(
        user=user,
        event=event,
        method=method,
        ip_address=client.ip,
        user_agent=client.user_agent,
        actor=actor,
        details=details,
    )
