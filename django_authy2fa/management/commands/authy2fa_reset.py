"""Turn a user's two-factor authentication off, as the admin's "reset" action does.

The phone number (and Authy ID), the authenticator app, recovery codes and
trusted browsers are removed; the profile's version is bumped, which voids the
verification of every other session and every API token. The user can sign in
with the password alone (or must enroll again where the policy requires 2FA).

A reason is required and kept in the audit event (``reset``), with the
operator's account when ``--actor`` names one. It asks for confirmation unless
``--yes``/``--no-input`` is given; ``--dry-run`` shows what would go.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ... import operations
from ...exceptions import Authy2FAError, CacheUnavailable

COMMAND = "authy2fa_reset"


class Command(BaseCommand):
    help = "Reset (turn off) a user's two-factor authentication, with an audited reason."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username", nargs="?", help="The user's USERNAME_FIELD value.")
        parser.add_argument("--id", dest="user_id", help="Find the user by primary key instead.")
        parser.add_argument(
            "--reason", required=True, help="Why (kept in the audit event, at most 500 chars)."
        )
        parser.add_argument(
            "--actor",
            help="Your own account's username, recorded as who acted (must be staff).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would be removed; change nothing."
        )
        parser.add_argument(
            "--yes",
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = target_user(options)
        actor = actor_user(options["actor"])
        try:
            reason = operations.clean_reason(options["reason"], required=True)
        except Authy2FAError as err:
            raise CommandError(str(err)) from None
        summary = operations.describe_user(user)
        self.stdout.write(_plan(summary))
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing changed.")
            return
        if options["interactive"] and not _confirmed(summary.username):
            raise CommandError("Cancelled; nothing changed.")
        try:
            operations.reset_two_factor(
                user, reason=reason, actor=actor, client=operations.command_client(COMMAND)
            )
        except CacheUnavailable:
            raise CommandError(
                "The shared cache cannot be updated, so the reset was refused (other servers "
                "would not notice it); nothing changed. Fix the cache and run it again."
            ) from None
        self.stdout.write(
            self.style.SUCCESS(f"Two-factor authentication of {summary.username} was reset.")
        )


def target_user(options: dict[str, Any]) -> Any:
    """The user named by the ``username`` argument or ``--id``; CommandError if none."""
    try:
        return operations.find_user(options["username"], user_id=options["user_id"])
    except Authy2FAError as err:
        raise CommandError(str(err)) from None


def actor_user(username: str | None) -> Any:
    """The operator's own (staff) account named by ``--actor``, or None."""
    if not username:
        return None
    try:
        actor = operations.find_user(username)
    except Authy2FAError as err:
        raise CommandError(f"--actor: {err}") from None
    if not getattr(actor, "is_staff", False):
        raise CommandError(f"--actor: {username!r} is not a staff account.")
    return actor


def _plan(summary: operations.UserSummary) -> str:
    if not summary.has_profile and not summary.authenticator_app:
        state = "has no two-factor profile"
    else:
        state = "has two-factor on" if summary.enabled else "has two-factor off"
    lines = [f"User {summary.username} (id {summary.user_id}) {state}. A reset removes:"]
    lines.append(f"  phone number: {summary.masked_phone or 'none'}")
    if summary.has_authy_id:
        lines.append("  Authy registration: yes (the user is also removed from Authy)")
    lines.append(f"  authenticator app: {'yes' if summary.authenticator_app else 'none'}")
    lines.append(f"  unused recovery codes: {summary.recovery_codes_left}")
    lines.append(f"  active trusted browsers: {summary.trusted_browsers}")
    lines.append(f"  active API tokens (voided): {summary.api_tokens}")
    if summary.locked or summary.failure_count:
        lines.append(f"  failures and locks: {summary.failure_count} failures cleared")
    return "\n".join(lines)


def _confirmed(username: str) -> bool:
    try:
        answer = input(f"Reset two-factor authentication of {username}? Type 'yes' to go on: ")
    except EOFError:
        return False
    return answer.strip().lower() == "yes"
