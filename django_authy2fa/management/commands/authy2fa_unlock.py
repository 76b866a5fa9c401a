"""Clear a user's wrong-code counter, temporary lock and hard lock, as the admin's "unlock" does.

Audited (``unlocked``, with the reason and ``--actor`` when given). A user who
is not locked and has no failures is left alone and no event is written.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ... import operations
from ...exceptions import Authy2FAError
from .authy2fa_reset import actor_user, target_user

COMMAND = "authy2fa_unlock"


class Command(BaseCommand):
    help = "Unlock a user's second step: clear failures, the temporary lock and the hard lock."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username", nargs="?", help="The user's USERNAME_FIELD value.")
        parser.add_argument("--id", dest="user_id", help="Find the user by primary key instead.")
        parser.add_argument("--reason", default="", help="Why (kept in the audit event).")
        parser.add_argument(
            "--actor",
            help="Your own account's username, recorded as who acted (must be staff).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = target_user(options)
        actor = actor_user(options["actor"])
        try:
            result = operations.unlock_user(
                user,
                reason=options["reason"],
                actor=actor,
                client=operations.command_client(COMMAND),
            )
        except Authy2FAError as err:
            raise CommandError(str(err)) from None
        style = self.style.SUCCESS if result.unlocked else self.style.NOTICE
        self.stdout.write(style(result.message))
