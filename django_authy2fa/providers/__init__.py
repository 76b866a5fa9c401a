"""Providers deliver and check codes; :func:`get_provider` returns the configured one."""

from __future__ import annotations

from typing import Any, cast

from django.core.signals import setting_changed

from ..conf import SETTING_NAME, app_settings
from .base import BaseProvider, Channel, PushRequest, PushStatus, Recipient, SendResult
from .circuit import CircuitBreaker, CircuitOpen, circuit_state

__all__ = [
    "BaseProvider",
    "Channel",
    "CircuitBreaker",
    "CircuitOpen",
    "PushRequest",
    "PushStatus",
    "Recipient",
    "SendResult",
    "circuit_state",
    "get_provider",
    "reset_provider",
]

_instance: BaseProvider | None = None


def get_provider() -> BaseProvider:
    """The provider named by ``AUTHY2FA["PROVIDER"]``, built once and reused.

    Reusing one instance keeps the provider's pooled HTTP connections alive
    between requests. It comes wrapped in a :class:`~.circuit.CircuitBreaker`
    (same methods and attributes, ``isinstance`` sees the provider's class):
    after ``THROTTLE["CIRCUIT_FAILURES"]`` consecutive outages the provider is
    skipped for ``THROTTLE["CIRCUIT_COOLOFF_SECONDS"]``.
    """
    global _instance
    if _instance is None:
        provider_class = app_settings.provider_class
        _instance = cast(
            BaseProvider, CircuitBreaker(provider_class(**app_settings.PROVIDER_OPTIONS))
        )
    return _instance


def reset_provider() -> None:
    """Drop the cached provider (settings changed, or a test wants a fresh one)."""
    global _instance
    instance, _instance = _instance, None
    close = getattr(instance, "close", None)
    if close is not None:
        close()


def _reset_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        reset_provider()


setting_changed.connect(_reset_on_change, dispatch_uid="django_authy2fa.providers.reset")
