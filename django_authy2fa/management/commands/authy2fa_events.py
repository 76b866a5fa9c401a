"""Recent security events (the audit log), newest first, filterable.

Events never hold a code, a secret or a full phone number; the output scrubs
them once more (keys that name secrets are hidden, phone numbers masked).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

from ... import operations
from ...exceptions import Authy2FAError


class Command(BaseCommand):
    help = "Show recent two-factor security events (filter by user, type and time)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--user", help="Only this user (USERNAME_FIELD value).")
        parser.add_argument("--user-id", help="Only the user with this primary key.")
        parser.add_argument(
            "--kind",
            "--type",
            dest="kinds",
            action="append",
            default=[],
            help="Only this event type; repeat or separate with commas (e.g. locked,reset). "
            f"Types: {', '.join(operations.event_kinds())}.",
        )
        parser.add_argument(
            "--since", help="Only events since 30m, 24h, 7d, 2w ago, or an ISO date or time."
        )
        parser.add_argument("--limit", type=int, default=50, help="At most this many (50).")
        parser.add_argument("--json", action="store_true", help="Print a JSON array.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = None
            if options["user"] is not None or options["user_id"] is not None:
                user = operations.find_user(options["user"], user_id=options["user_id"])
            kinds = [k.strip() for value in options["kinds"] for k in value.split(",") if k.strip()]
            since = operations.parse_since(options["since"]) if options["since"] else None
            events = operations.recent_events(
                user=user, kinds=kinds, since=since, limit=options["limit"]
            )
        except Authy2FAError as err:
            raise CommandError(str(err)) from None
        if options["json"]:
            self.stdout.write(
                json.dumps(events, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
            )
            return
        if not events:
            self.stdout.write("No events.")
            return
        for event in events:
            self.stdout.write(_line(event))


def _line(event: dict[str, Any]) -> str:
    parts = [f"{event['time']:%Y-%m-%d %H:%M:%S}", event["event"]]
    parts.append(f"user={event['user'] or '-'}")
    if event["method"]:
        parts.append(f"method={event['method']}")
    if event["ip"]:
        parts.append(f"ip={event['ip']}")
    if event["actor"]:
        parts.append(f"by={event['actor']}")
    if event["user_agent"].startswith("manage.py "):
        parts.append(f"via={event['user_agent'].removeprefix('manage.py ')}")
    for key, value in event["details"].items():
        parts.append(f"{key}={json.dumps(value, ensure_ascii=False, cls=DjangoJSONEncoder)}")
    return "  ".join(parts)
