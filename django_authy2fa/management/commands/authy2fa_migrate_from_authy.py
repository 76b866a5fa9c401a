"""Move users off Twilio Authy: to Twilio Verify (phone codes) and/or local TOTP.

Dry run by default: it reports what it would do and changes nothing. With
``--commit`` each user is migrated in its own transaction, so an Authy
failure midway loses nothing: the user keeps their Authy ID and is reported;
running the command again picks up where it stopped.

* ``--to verify``: Verify needs no registration, only the E.164 number the app
  already stores. The Authy ID is cleared (and, with ``--delete-from-authy``,
  the user is removed from Authy). Users without a stored phone number cannot
  be moved and are listed: they must enroll again.
* ``--to totp``: uses Authy's access-gated TOTP seed export to create a local
  authenticator-app device with the same seed, so the user's Authy app keeps
  working against this site without Authy.
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ... import state
from ...clients.authy import AuthyClient
from ...conf import app_settings
from ...exceptions import Authy2FAError, ProviderError
from ...models import TwoFactorProfile, next_version

OUTCOMES = ("migrated", "would migrate", "already done", "no phone number", "failed")


class Command(BaseCommand):
    help = "Move users with an Authy ID to Twilio Verify or to local TOTP (dry run by default)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--to", choices=["verify", "totp"], required=True)
        parser.add_argument("--commit", action="store_true", help="Apply the changes.")
        parser.add_argument(
            "--delete-from-authy",
            action="store_true",
            help="After a user is migrated, remove them from the Authy application.",
        )
        parser.add_argument("--api-key", help="Authy API key (default: the provider options).")
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        self.commit = options["commit"]
        self.target = options["to"]
        self.delete = options["delete_from_authy"]
        needs_authy = self.target == "totp" or self.delete
        self.client = self._client(options["api_key"]) if needs_authy else None
        profiles = TwoFactorProfile.objects.filter(authy_id__isnull=False).select_related("user")
        total = profiles.count()
        counts: Counter[str] = Counter()
        for done, profile in enumerate(profiles.iterator(chunk_size=options["batch_size"]), 1):
            counts[self._migrate(profile)] += 1
            self._progress(done, total)
        self._summary(counts, total)

    # -- one user ------------------------------------------------------------------------

    def _migrate(self, profile: TwoFactorProfile) -> str:
        try:
            if self.target == "verify":
                return self._to_verify(profile)
            return self._to_totp(profile)
        except (ProviderError, Authy2FAError) as err:
            self.stderr.write(f"\nuser {profile.user_id}: {type(err).__name__}: {err}")
            return "failed"

    def _to_verify(self, profile: TwoFactorProfile) -> str:
        if not profile.phone_number:
            self.stderr.write(f"\nuser {profile.user_id}: no phone number; must enroll again")
            return "no phone number"
        if not self.commit:
            return "would migrate"
        authy_id = profile.authy_id
        with transaction.atomic():
            TwoFactorProfile.objects.filter(pk=profile.pk, authy_id=authy_id).update(
                authy_id=None, version=next_version()
            )
            state.publish_user_state(profile.user_id)
        self._forget_at_authy(authy_id)
        return "migrated"

    def _to_totp(self, profile: TwoFactorProfile) -> str:
        from ... import totp

        if totp.has_confirmed_device(profile.user):
            return "already done"
        if not self.commit:
            return "would migrate"
        exported = self.client.export_totp_secret(profile.authy_id)
        with transaction.atomic():
            totp.import_confirmed_device(profile.user, exported.secret)
            TwoFactorProfile.objects.filter(pk=profile.pk).update(version=next_version())
            state.publish_user_state(profile.user_id)
        if self.delete:
            self._forget_at_authy(profile.authy_id)
            TwoFactorProfile.objects.filter(pk=profile.pk).update(authy_id=None)
        return "migrated"

    def _forget_at_authy(self, authy_id: str | None) -> None:
        if self.delete and self.client is not None and authy_id:
            try:
                self.client.delete_user(authy_id)
            except ProviderError as err:
                # The user is migrated already; Authy forgets idle users anyway.
                self.stderr.write(f"\nAuthy ID {authy_id}: not removed from Authy ({err})")

    # -- plumbing --------------------------------------------------------------------------

    def _client(self, api_key: str | None) -> AuthyClient:
        key = api_key or app_settings.PROVIDER_OPTIONS.get("API_KEY")
        if not key:
            raise CommandError(
                "An Authy API key is needed: pass --api-key or set "
                "AUTHY2FA['PROVIDER_OPTIONS']['API_KEY']."
            )
        return AuthyClient(key)

    def _progress(self, done: int, total: int) -> None:
        if not sys.stderr.isatty():
            return
        width = 30
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stderr.flush()

    def _summary(self, counts: Counter[str], total: int) -> None:
        mode = "" if self.commit else " (dry run: nothing changed; add --commit)"
        self.stdout.write(f"\n{total} users with an Authy ID{mode}")
        for outcome in OUTCOMES:
            if counts[outcome]:
                self.stdout.write(f"  {outcome}: {counts[outcome]}")
