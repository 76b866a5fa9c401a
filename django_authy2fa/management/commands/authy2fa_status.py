"""An operator's overview: who has 2FA and how, who is locked, open logins, provider health.

Reads the database and the cache only; it never calls the provider (use
``authy2fa_check_provider --ping`` for that). ``--json`` prints the same
report as one JSON object for monitoring.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand
from django.core.serializers.json import DjangoJSONEncoder

from ... import operations


class Command(BaseCommand):
    help = "Counts by method, locked users, pending logins and the provider's circuit breaker."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        parser.add_argument(
            "--locked-limit",
            type=int,
            default=20,
            help="How many locked users to list (default 20).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = operations.status_report(locked_limit=max(options["locked_limit"], 0))
        if options["json"]:
            self.stdout.write(
                json.dumps(report, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
            )
            return
        self.stdout.write("\n".join(_text(report)))


def _text(report: dict[str, Any]) -> list[str]:
    users, methods, locks = report["users"], report["methods"], report["locks"]
    lines = [
        f"Users: {users['total']} (two-factor on: {users['two_factor_on']}, "
        f"off: {users['two_factor_off']})",
    ]
    if users["required_without_two_factor"]:
        lines.append(
            f"  required by REQUIRED_FOR but not set up: {users['required_without_two_factor']}"
        )
    by_method = ", ".join(f"{name} {n}" for name, n in methods["default_method"].items())
    lines += [
        f"Default method: {by_method or 'none'}",
        f"  phone confirmed: {methods['phone_confirmed']} (with an Authy ID: "
        f"{methods['authy_id']})",
        f"  authenticator app (confirmed): {methods['authenticator_app']}",
        f"  with unused recovery codes: {methods['with_recovery_codes']}",
        f"Locked: {locks['locked']} (hard: {locks['hard']}, temporary: {locks['temporary']})",
    ]
    for entry in locks["users"]:
        if entry["hard"]:
            until = "until unlocked"
        else:
            until = f"until {entry['locked_until']:%Y-%m-%d %H:%M}"
        lines.append(f"  {entry['user']}: {until}, {entry['failures']} failures")
    pending = report["pending_challenges"]
    detail = ", ".join(f"{purpose} {n}" for purpose, n in sorted(pending.items()))
    lines += [
        f"Open challenges: {sum(pending.values())}" + (f" ({detail})" if detail else ""),
        f"Active trusted browsers: {report['trusted_browsers']}",
        f"Active API tokens: {report['api_tokens']}",
    ]
    lines += _provider_lines(report["provider"])
    return lines


def _provider_lines(provider: dict[str, Any]) -> list[str]:
    if not provider.get("configured"):
        return [f"Provider: not usable ({provider.get('error')})"]
    circuit = provider["circuit"]
    state = circuit.get("state", "unknown")
    line = f"  circuit breaker: {state}"
    if state == "unknown":
        line += f" (cache error {circuit.get('error')})"
    else:
        line += f", {circuit.get('failures', 0)}/{circuit.get('threshold')} consecutive failures"
        if state != "closed":
            line += f", next trial in {circuit.get('retry_after')} s"
    return [
        f"Provider: {provider['name']} ({provider['setting']}); "
        f"channels: {', '.join(provider['channels']) or 'none'}",
        line,
    ]
