"""The circuit breaker's state machine, with a scripted provider and a settable clock."""

from __future__ import annotations

import contextlib
import threading

import pytest
from django.core.cache import cache
from django.test import override_settings

from django_authy2fa.exceptions import (
    InvalidInput,
    ProviderRejected,
    ProviderThrottled,
    ProviderUnavailable,
    ProviderUserNotFound,
)
from django_authy2fa.providers import (
    BaseProvider,
    Channel,
    CircuitBreaker,
    CircuitOpen,
    Recipient,
    SendResult,
    circuit,
    circuit_state,
    get_provider,
    reset_provider,
)
from django_authy2fa.providers.locmem import LocmemProvider

from .support import BrokenCache

RECIPIENT = Recipient(phone="+14155552671", provider_user_id="1635")
DOWN = ProviderUnavailable("Down.", provider="Scripted")


class Scripted(BaseProvider):
    """A provider whose next outcomes a test queues; it counts the calls that reach it."""

    name = "Scripted"
    channels = frozenset({Channel.SMS, Channel.CALL})
    app_codes = True

    def __init__(self, api_url: str = "https://scripted.example") -> None:
        super().__init__()
        self.config = {"API_URL": api_url}
        self.calls = 0
        self.outcomes: list[object] = []
        self.closed = False
        self.client = object()

    def _next(self, default: object) -> object:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else default
        if callable(outcome) and not isinstance(outcome, type):
            outcome = outcome()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def send_code(self, recipient, channel, *, locale=None):
        return self._next(SendResult(channel=channel, reference="ref"))

    def check_code(self, recipient, code, *, reference=""):
        return self._next(True)

    def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(circuit, "_now", clock)
    return clock


@pytest.fixture
def provider():
    return Scripted()


@pytest.fixture
def breaker(provider, clock):
    return CircuitBreaker(provider)


def send(breaker):
    return breaker.send_code(RECIPIENT, Channel.SMS)


def fail_times(breaker, provider, times: int) -> None:
    for _ in range(times):
        provider.outcomes.append(DOWN)
        with pytest.raises(ProviderUnavailable) as caught:
            send(breaker)
        assert not isinstance(caught.value, CircuitOpen)


def open_circuit(breaker, provider) -> None:
    fail_times(breaker, provider, 5)
    assert breaker.circuit_state()["state"] == "open"


# -- closed -------------------------------------------------------------------------------------


def test_calls_pass_through_and_return_the_providers_answer(breaker, provider):
    assert send(breaker).reference == "ref"
    assert breaker.check_code(RECIPIENT, "123456", reference="ref") is True
    assert provider.calls == 2
    assert breaker.circuit_state()["state"] == "closed"


def test_four_failures_do_not_open_and_a_success_resets_the_count(breaker, provider):
    fail_times(breaker, provider, 4)
    assert breaker.circuit_state()["failures"] == 4
    send(breaker)
    assert breaker.circuit_state()["failures"] == 0
    fail_times(breaker, provider, 4)  # not consecutive with the first four
    assert breaker.circuit_state()["state"] == "closed"
    assert provider.calls == 9


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(False, id="wrong-code"),
        pytest.param(ProviderRejected("No.", status_code=400), id="rejected"),
        pytest.param(ProviderThrottled("Slow down.", status_code=429), id="provider-429"),
    ],
)
def test_answers_from_the_provider_never_count_and_reset_the_streak(breaker, provider, answer):
    fail_times(breaker, provider, 4)
    for _ in range(6):
        provider.outcomes.append(answer)
        with contextlib.suppress(ProviderRejected, ProviderThrottled):
            breaker.check_code(RECIPIENT, "123456", reference="ref")
    state = breaker.circuit_state()
    assert state["state"] == "closed"
    assert state["failures"] == 0
    assert provider.calls == 10


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(InvalidInput("Bad locale."), id="input-refused"),
        pytest.param(ProviderUserNotFound("Not registered yet."), id="refused-before-network"),
        pytest.param(RuntimeError("bug"), id="bug"),
    ],
)
def test_errors_that_say_nothing_about_the_provider_neither_count_nor_reset(
    breaker, provider, error
):
    fail_times(breaker, provider, 4)
    provider.outcomes.append(error)
    with pytest.raises(type(error)):
        send(breaker)
    assert breaker.circuit_state()["failures"] == 4
    fail_times(breaker, provider, 1)
    assert breaker.circuit_state()["state"] == "open"


# -- open ---------------------------------------------------------------------------------------


def test_five_consecutive_failures_open_it_and_calls_then_fail_fast(breaker, provider, clock):
    open_circuit(breaker, provider)
    with pytest.raises(CircuitOpen) as caught:
        send(breaker)
    with pytest.raises(CircuitOpen):
        breaker.check_code(RECIPIENT, "123456", reference="ref")
    assert provider.calls == 5  # nothing reached the provider
    error = caught.value
    assert isinstance(error, ProviderUnavailable)
    assert error.message == (
        "Scripted is temporarily unavailable; use your authenticator app or a recovery code."
    )
    assert error.retry_after == 60
    assert error.provider == "Scripted"
    clock.advance(45.5)
    with pytest.raises(CircuitOpen) as caught:
        send(breaker)
    assert caught.value.retry_after == 15


def test_every_guarded_method_fails_fast_while_open(breaker, provider):
    open_circuit(breaker, provider)
    calls = {
        "enroll": lambda: breaker.enroll(RECIPIENT),
        "send_code": lambda: send(breaker),
        "check_code": lambda: breaker.check_code(RECIPIENT, "123456"),
        "start_push": lambda: breaker.start_push(RECIPIENT, message="Log in?"),
        "push_status": lambda: breaker.push_status("ref"),
        "remove": lambda: breaker.remove(RECIPIENT),
    }
    assert set(calls) == circuit.GUARDED_METHODS
    for call in calls.values():
        with pytest.raises(CircuitOpen):
            call()
    assert provider.calls == 5


def test_attributes_and_unguarded_helpers_keep_working_while_open(breaker, provider):
    open_circuit(breaker, provider)
    assert breaker.name == "Scripted"
    assert breaker.supports("sms") and not breaker.supports("push")
    assert breaker.ensure_channel("sms") is Channel.SMS
    assert breaker.app_codes is True


# -- half-open ----------------------------------------------------------------------------------


def test_after_the_cooloff_one_trial_goes_through_and_its_success_closes(breaker, provider, clock):
    open_circuit(breaker, provider)
    clock.advance(60)
    assert breaker.circuit_state()["state"] == "half-open"
    others: list[BaseException] = []

    def trial() -> SendResult:
        # While the trial is in flight, other requests still fail fast.
        try:
            send(breaker)
        except CircuitOpen as err:
            others.append(err)
        return SendResult(channel=Channel.SMS, reference="trial")

    provider.outcomes.append(trial)
    assert send(breaker).reference == "trial"
    assert len(others) == 1
    assert provider.calls == 6
    state = breaker.circuit_state()
    assert (state["state"], state["failures"], state["trial_in_progress"]) == ("closed", 0, False)
    send(breaker)
    assert provider.calls == 7


def test_a_failed_trial_opens_it_for_another_full_cooloff(breaker, provider, clock):
    open_circuit(breaker, provider)
    clock.advance(61)
    fail_times(breaker, provider, 1)  # the trial
    with pytest.raises(CircuitOpen) as caught:
        send(breaker)
    assert caught.value.retry_after == 60
    assert provider.calls == 6
    clock.advance(60)
    send(breaker)
    assert breaker.circuit_state()["state"] == "closed"


def test_a_trial_that_tells_nothing_frees_the_slot_for_the_next_request(breaker, provider, clock):
    open_circuit(breaker, provider)
    clock.advance(60)
    provider.outcomes.append(InvalidInput("Bad locale."))
    with pytest.raises(InvalidInput):
        send(breaker)
    assert breaker.circuit_state()["state"] == "half-open"
    send(breaker)  # the next request is the trial
    assert breaker.circuit_state()["state"] == "closed"


def test_a_trial_whose_request_died_is_retried_after_its_slot_expires(breaker, provider, clock):
    open_circuit(breaker, provider)
    clock.advance(60)
    cache.add(breaker._keys["trial"], clock.now, 30)  # a worker killed mid-trial
    with pytest.raises(CircuitOpen):
        send(breaker)
    cache.delete(breaker._keys["trial"])  # what the cache's expiry does
    send(breaker)
    assert breaker.circuit_state()["state"] == "closed"


def test_requests_in_flight_when_it_opened_do_not_extend_the_cooloff(breaker, provider, clock):
    open_circuit(breaker, provider)
    opened_until = breaker.circuit_state()["open_until"]
    clock.advance(10)
    # A request admitted before the circuit opened fails late.
    breaker._failed(circuit._Gate.CLOSED)
    assert breaker.circuit_state()["open_until"] == opened_until


# -- settings -----------------------------------------------------------------------------------


def test_threshold_and_cooloff_come_from_the_throttle_settings(provider, clock):
    breaker = CircuitBreaker(provider)
    with override_settings(
        AUTHY2FA={
            "PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider",
            "THROTTLE": {"CIRCUIT_FAILURES": 2, "CIRCUIT_COOLOFF_SECONDS": 5},
        }
    ):
        fail_times(breaker, provider, 2)
        with pytest.raises(CircuitOpen) as caught:
            send(breaker)
        assert caught.value.retry_after == 5
        state = circuit_state(breaker)
        assert (state["threshold"], state["cooloff_seconds"]) == (2, 5)


# -- shared state -------------------------------------------------------------------------------


def test_state_is_in_the_cache_under_the_circuit_namespace_and_shared_by_instances(clock):
    first, second = Scripted(), Scripted()  # two app servers, one configuration
    fail_times(CircuitBreaker(first), first, 5)
    with pytest.raises(CircuitOpen):
        send(CircuitBreaker(second))
    assert second.calls == 0
    assert all(key.startswith("authy2fa:circuit:") for key in CircuitBreaker(first)._keys.values())


def test_another_endpoint_has_its_own_circuit(clock):
    down, other = Scripted("https://a.example"), Scripted("https://b.example")
    fail_times(CircuitBreaker(down), down, 5)
    send(CircuitBreaker(other))
    assert other.calls == 1


def test_failures_are_counted_atomically_across_threads(clock):
    provider = Scripted()
    breaker = CircuitBreaker(provider)
    start = threading.Barrier(20)

    def fail_once() -> None:
        start.wait()
        breaker._failed(circuit._Gate.CLOSED)  # never raises: cache errors are logged

    with override_settings(
        AUTHY2FA={
            "PROVIDER": "django_authy2fa.providers.locmem.LocmemProvider",
            "THROTTLE": {"CIRCUIT_FAILURES": 100},
        }
    ):
        threads = [threading.Thread(target=fail_once) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert breaker.circuit_state()["failures"] == 20


# -- a broken cache -----------------------------------------------------------------------------


def test_a_broken_cache_never_breaks_a_call(breaker, provider, monkeypatch):
    monkeypatch.setattr(circuit, "cache", BrokenCache())
    assert send(breaker).reference == "ref"
    for _ in range(7):
        provider.outcomes.append(DOWN)
        with pytest.raises(ProviderUnavailable) as caught:
            send(breaker)
        assert caught.value is DOWN  # the provider's own error, never a cache error
    assert provider.calls == 8  # nothing could be counted, so nothing was skipped
    assert breaker.circuit_state()["state"] == "unknown"


def test_a_cache_that_breaks_while_open_lets_calls_through(breaker, provider, monkeypatch):
    open_circuit(breaker, provider)
    monkeypatch.setattr(circuit, "cache", BrokenCache())
    send(breaker)
    assert provider.calls == 6


def test_garbage_in_the_cache_reads_as_closed(breaker, provider):
    cache.set(breaker._keys["open"], "not a time")
    send(breaker)
    assert breaker.circuit_state()["state"] == "closed"


# -- transparency -------------------------------------------------------------------------------


def test_the_wrapper_looks_like_the_provider(breaker, provider):
    assert isinstance(breaker, Scripted)
    assert isinstance(breaker, BaseProvider)
    assert type(breaker) is CircuitBreaker
    assert breaker.wrapped_provider is provider
    assert breaker.client is provider.client
    assert breaker.config == {"API_URL": "https://scripted.example"}
    assert breaker.channels == provider.channels
    assert breaker.needs_enrollment is False
    assert getattr(breaker, "validate_webhook", None) is None
    breaker.extra = "set through"
    assert provider.extra == "set through"
    breaker.close()
    assert provider.closed
    assert "Scripted" in repr(breaker)


def test_get_provider_returns_the_configured_provider_behind_a_breaker():
    provider = get_provider()
    assert type(provider) is CircuitBreaker
    assert isinstance(provider, LocmemProvider)
    assert get_provider() is provider
    state = circuit_state()
    assert state["state"] == "closed"
    assert state["provider"] == "In-memory test provider"
    assert (state["threshold"], state["cooloff_seconds"]) == (5, 60)


def test_reset_provider_closes_the_wrapped_provider(monkeypatch):
    closed = []
    monkeypatch.setattr(LocmemProvider, "close", lambda self: closed.append(self), raising=False)
    provider = get_provider()
    reset_provider()
    assert closed == [provider.wrapped_provider]


def test_reset_closes_an_open_circuit(breaker, provider):
    open_circuit(breaker, provider)
    breaker.circuit_reset()
    send(breaker)
    assert circuit_state(provider)["state"] == "closed"
