"""Check the configured provider: its settings, its API, and (on request) a real delivery.

* No option: the provider setting, its options (credentials shown only as set
  or not set), the system checks about it and the circuit breaker. No network.
* ``--ping``: asks the provider's API about the site's own account (Authy:
  application details; Verify: the service). Proves the credentials work;
  sends nothing to anyone.
* ``--to +E164``: sends a real code by SMS (or ``--channel call``) through the
  provider, bypassing the circuit breaker. Authy needs ``--email`` to register
  the number first.
* ``--reset-circuit``: closes the circuit breaker (the provider is back).

Exit codes: 0 all good; 1 bad arguments; 3 the configuration is broken; 4 the
provider refused or could not be reached. The API key or auth token is never
printed.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

from ... import operations
from ...exceptions import Authy2FAConfigurationError, InvalidInput, ProviderError

EXIT_CONFIGURATION = 3
EXIT_PROVIDER = 4


class Command(BaseCommand):
    help = "Show the provider configuration; --ping its API; --to +E164 sends a test code."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--ping", action="store_true", help="Ask the provider's API about this account."
        )
        parser.add_argument("--to", help="Send a real test code to this E.164 number.")
        parser.add_argument("--channel", choices=["sms", "call"], default="sms")
        parser.add_argument("--email", default="", help="For Authy: the e-mail to register.")
        parser.add_argument(
            "--reset-circuit",
            action="store_true",
            help="Close the circuit breaker and forget the failure count.",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        report: dict[str, Any] = {}
        try:
            report["configuration"] = operations.provider_configuration()
            errors = [c for c in report["configuration"]["checks"] if c["level"] == "error"]
            if not options["json"]:
                self._configuration(report["configuration"])
            if not report["configuration"]["setting"]:
                raise CommandError(
                    "AUTHY2FA['PROVIDER'] is not set: there is no provider to check.",
                    returncode=EXIT_CONFIGURATION,
                )
            if errors:
                raise CommandError(
                    "The configuration has errors: "
                    + "; ".join(f"{c['id']}: {c['message']}" for c in errors),
                    returncode=EXIT_CONFIGURATION,
                )
            if options["reset_circuit"]:
                report["circuit_reset"] = self._reset_circuit(options["json"])
            report["health"] = operations.provider_health()
            if not options["json"]:
                self._health(report["health"])
            if options["ping"]:
                report["ping"] = operations.ping_provider()
                if not options["json"]:
                    self._ping(report["ping"])
            if options["to"]:
                report["test"] = operations.send_test_code(
                    options["to"], options["channel"], email=options["email"]
                )
                if not options["json"]:
                    self._test(report["test"])
        except Authy2FAConfigurationError as err:
            raise CommandError(str(err), returncode=EXIT_CONFIGURATION) from None
        except InvalidInput as err:
            raise CommandError(str(err)) from None
        except ProviderError as err:
            if options["json"]:
                report["error"] = {"type": type(err).__name__, "error_code": err.error_code}
                self.stdout.write(
                    json.dumps(report, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
                )
            raise CommandError(
                operations.describe_provider_error(err), returncode=EXIT_PROVIDER
            ) from None
        if options["json"]:
            self.stdout.write(
                json.dumps(report, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
            )

    def _configuration(self, configuration: dict[str, Any]) -> None:
        self.stdout.write(f"PROVIDER: {configuration['setting'] or '(not set)'}")
        if configuration.get("name"):
            channels = ", ".join(configuration["channels"]) or "none"
            self.stdout.write(f"  {configuration['name']}; channels: {channels}")
        for name, shown in configuration["options"].items():
            self.stdout.write(f"  PROVIDER_OPTIONS[{name!r}]: {shown}")
        for check in configuration["checks"]:
            style = self.style.ERROR if check["level"] == "error" else self.style.WARNING
            self.stdout.write(style(f"  {check['id']} ({check['level']}): {check['message']}"))

    def _reset_circuit(self, quiet: bool) -> bool:
        from ...providers import get_provider

        provider = get_provider()
        reset = getattr(provider, "circuit_reset", None)
        if reset is None:
            return False
        reset()
        if not quiet:
            self.stdout.write("Circuit breaker reset (closed, no failures counted).")
        return True

    def _health(self, health: dict[str, Any]) -> None:
        circuit = health.get("circuit", {})
        state = circuit.get("state", "unknown")
        line = f"Circuit breaker: {state}"
        if state != "unknown":
            line += f", {circuit.get('failures', 0)}/{circuit.get('threshold')} failures"
        if state in ("open", "half-open"):
            line += f", next trial in {circuit.get('retry_after')} s"
        self.stdout.write(line)

    def _ping(self, ping: dict[str, Any]) -> None:
        if not ping["supported"]:
            self.stdout.write(f"{ping['provider']} has no remote API to ask; nothing to ping.")
            return
        facts = {k: v for k, v in ping.items() if k not in ("supported", "provider", "endpoint")}
        shown = ", ".join(f"{k}: {v}" for k, v in facts.items() if v is not None)
        self.stdout.write(
            self.style.SUCCESS(f"{ping['provider']} answered {ping['endpoint']}: {shown}")
        )

    def _test(self, test: dict[str, Any]) -> None:
        kind = "voice call" if test["channel"] == "call" else "SMS"
        if not test["sent"]:
            self.stdout.write(
                self.style.WARNING(
                    f"{test['provider']} accepted the request but did not send the {kind} to "
                    f"{test['to']} (Authy sends a push to users of its app instead)."
                )
            )
            return
        reference = f" (reference {test['reference']})" if test["reference"] else ""
        self.stdout.write(
            self.style.SUCCESS(f"{test['provider']} sent a test {kind} to {test['to']}{reference}.")
        )
