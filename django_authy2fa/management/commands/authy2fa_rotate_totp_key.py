"""Re-encrypt every stored TOTP secret with the current (first) encryption key.

Run it after putting a new key first in ``AUTHY2FA["ENCRYPTION_KEYS"]`` (or
after moving the old ``SECRET_KEY`` to ``SECRET_KEY_FALLBACKS``); once it
reports no failures, the old key can be removed. Running it again changes
nothing. Output has counts and device ids only, never a secret.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ...crypto import DecryptionFailed, is_current, rotate
from ...models import TOTPDevice


class Command(BaseCommand):
    help = "Re-encrypt stored TOTP secrets with the first key of AUTHY2FA['ENCRYPTION_KEYS']."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would be re-encrypted; write nothing.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="Devices read and updated per transaction (default 500).",
        )
        parser.add_argument(
            "--accept-secret-key",
            action="store_true",
            help=(
                "Also decrypt with the keys derived from SECRET_KEY and SECRET_KEY_FALLBACKS: "
                "use once when moving from the default key to explicit ENCRYPTION_KEYS."
            ),
        )

    def handle(self, *args, dry_run: bool, batch_size: int, accept_secret_key: bool, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        rotated = current = changed = 0
        failed: list[int] = []
        last_pk = 0
        while True:
            batch = list(
                TOTPDevice.objects.filter(pk__gt=last_pk)
                .order_by("pk")
                .values_list("pk", "encrypted_secret")[:batch_size]
            )
            if not batch:
                break
            last_pk = batch[-1][0]
            with transaction.atomic():
                for pk, token in batch:
                    if is_current(token):
                        current += 1
                        continue
                    try:
                        new_token = rotate(token, accept_derived=accept_secret_key)
                    except DecryptionFailed:
                        failed.append(pk)
                        continue
                    if dry_run:
                        rotated += 1
                        continue
                    # Conditional: a secret replaced meanwhile (re-enrollment) is already
                    # encrypted with the current key and must not be overwritten.
                    updated = TOTPDevice.objects.filter(pk=pk, encrypted_secret=token).update(
                        encrypted_secret=new_token
                    )
                    if updated:
                        rotated += 1
                    else:
                        changed += 1

        verb = "Would re-encrypt" if dry_run else "Re-encrypted"
        self.stdout.write(f"{verb}: {rotated}")
        self.stdout.write(f"Already current: {current}")
        if changed:
            self.stdout.write(f"Changed meanwhile (skipped): {changed}")
        self.stdout.write(f"Failed to decrypt: {len(failed)}")
        if failed:
            ids = ", ".join(str(pk) for pk in failed)
            self.stderr.write(f"Devices whose secret no configured key decrypts: {ids}")
            raise CommandError(
                f"{len(failed)} secret(s) could not be decrypted; keep the old key until "
                "they are fixed (or removed and re-enrolled)."
            )
        if dry_run:
            self.stdout.write("Dry run: nothing was written.")
