"""What the provider clients (Authy, Twilio Verify) share: transport, answers, checks.

Both clients talk to a JSON API over HTTP under the same rules, so the rules
live here once and a fix (a new urllib3 local to mask, a session setting)
reaches both:

* one pooled :class:`requests.Session` per client that never retries (a
  retried send is a second SMS), never follows redirects (they would carry the
  credentials elsewhere), refuses cookies, never reads ``~/.netrc`` and reads
  the proxy and CA-bundle variables once, when the client is made
  (:func:`new_session`, :func:`settle_environment`);
* every request carries an explicit ``auth=``, so neither a netrc ``default``
  entry nor a caller's session can add or replace an Authorization header;
* the whole answer -- status line, headers and body -- must arrive within the
  read timeout (:class:`DeadlineAdapter`), and its size is bounded
  (:func:`read_limited`);
* a transport failure becomes one :class:`ProviderUnavailable` whose cause holds
  no frames and no request (:meth:`ApiClient._transport_failure`);
* :data:`SENSITIVE_NAMES` masks, in Django's error reports, every local that may
  hold a credential, a code, a recipient or the encoded request, in the
  clients' frames and in the requests/urllib3/http.client frames below them.

Each client keeps what is specific to its API: endpoints, request shapes,
error-code tables, the parsing of answers and the webhook signature algorithms.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import ipaddress
import json
import logging
import math
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any, ClassVar, Final, Generic, TypeVar
from urllib.parse import quote, urlsplit

import requests
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.views.decorators.debug import sensitive_variables
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3HTTPError
from urllib3.exceptions import ReadTimeoutError
from urllib3.poolmanager import PoolManager

from django_authy2fa import __version__
from django_authy2fa.exceptions import (
    Authy2FAConfigurationError,
    Authy2FAError,
    InvalidInput,
    ProviderError,
    ProviderThrottled,
    ProviderUnavailable,
    _,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_EMAIL_LENGTH",
    "MAX_PROVIDER_MESSAGE_LENGTH",
    "MAX_RESPONSE_BYTES",
    "NO_CREDENTIALS",
    "SENSITIVE_NAMES",
    "TRANSPORT_ERRORS",
    "ApiClient",
    "BodyRejected",
    "DeadlineAdapter",
    "NoCredentials",
    "Reply",
    "Timeout",
    "check_api_url",
    "check_secret",
    "check_timeout",
    "clean_email",
    "clean_locale",
    "detached",
    "is_loopback",
    "is_positive_number",
    "new_session",
    "normalise_error_code",
    "optional_text",
    "parse_fields",
    "parse_retry_after",
    "path_segment",
    "read_limited",
    "settle_environment",
    "transport_message",
]

Timeout = float | tuple[float, float]

#: (connect, read) seconds. The connect value is just above a multiple of 3 s,
#: the TCP retransmission window.
DEFAULT_TIMEOUT: Final = (3.05, 10)

# Answers are a few hundred bytes; a user status with many devices is a few
# KiB. Anything far larger is a fault (or a hostile proxy), not data.
MAX_RESPONSE_BYTES: Final = 256 * 1024
READ_CHUNK: Final = 16 * 1024
MAX_EMAIL_LENGTH: Final = 254
MAX_PROVIDER_MESSAGE_LENGTH: Final = 500

USER_AGENT: Final = f"django-authy2fa/{__version__}"

# ``re.ASCII`` and ``fullmatch`` everywhere: ``\d`` would accept other scripts'
# digits and ``$`` matches before a trailing newline.
_ERROR_CODE_RE: Final = re.compile(r"[0-9]{1,10}", re.ASCII)
_RETRY_AFTER_RE: Final = re.compile(r"[0-9]{1,7}", re.ASCII)
_PRINTABLE_RE: Final = re.compile(r"[\x21-\x7e]+", re.ASCII)
_LOCALE_RE: Final = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}", re.ASCII)
_LOOPBACK_NAMES: Final = frozenset({"localhost"})

# Local variable names masked in Django's error reports (500 page, admin
# e-mails), which show the locals of every frame. Django applies the names of
# the nearest ``sensitive_variables`` caller to each frame, so the names listed
# on :meth:`ApiClient._exchange` cover all the requests, urllib3 and
# http.client frames below it: their locals are listed here too, from the
# source of requests 2.3x, urllib3 2.x and http.client (``chunks_and_cl``,
# ``chunks`` and ``chunk`` are urllib3 2.x's names for the encoded body).
SENSITIVE_NAMES: Final = (
    # Credentials.
    "api_key",
    "auth_token",
    "webhook_auth_token",
    "token",
    "auth",
    "password",
    "authstr",
    # What the user types or receives: codes, phone numbers, e-mail addresses.
    "code",
    "to",
    "email",
    "phone_number",
    "national",
    "digits",
    "parsed",
    # The request body, before and while it is encoded and sent.
    "form",
    "body",
    "data",
    "payload",
    "params",
    "obj",
    "result",
    "vs",
    "v",
    "mv",
    "chunks_and_cl",
    "chunks",
    "chunk",
    "message_body",
    "datablock",
    "d",
    # Headers (the API key, the Basic credentials), one by one or as a block.
    "headers",
    "header",
    "header_part",
    "new_headers",
    "value",
    "values",
    "one_value",
    "msg",
    "s",
    # URLs and request lines: Authy's verify path carries the code.
    "url",
    "uri",
    "path",
    "parsed_url",
    "request",
    "enc_params",
    "query",
    # Answers: Twilio echoes the full recipient.
    "raw",
    "reply",
    "fields",
    # Signing.
    "message",
    "digest",
    "expected",
    "signature",
    # Exceptions, whose text may quote the URL.
    "failure",
    "err",
    "e",
    "new_e",
)


# --- Answers ---------------------------------------------------------------------------


def parse_fields(body: bytes) -> dict[str, Any]:
    """The JSON object of a body, or ``{}``: a body that is not one carries no fields.

    HTML error pages from proxies, truncated bodies and absurd nesting are all
    answers with nothing to go on, which the callers decide on by status.
    """
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def normalise_error_code(value: Any) -> str | None:
    """An error code as canonical digits; the APIs send it as a number or a string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    elif isinstance(value, float) and value.is_integer():
        value = str(int(value))
    if isinstance(value, str):
        value = value.strip()
        if _ERROR_CODE_RE.fullmatch(value):
            return value
    return None


def parse_retry_after(value: str | None) -> int | None:
    """Seconds from a ``Retry-After`` header; HTTP-dates are possible but never sent."""
    if value is None:
        return None
    value = value.strip()
    return int(value) if _RETRY_AFTER_RE.fullmatch(value) else None


def optional_text(value: Any) -> str | None:
    """A string field, or None: the answers are not trusted to have the documented types."""
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Reply:
    """One HTTP answer, parsed tolerantly; each API's subclass says where its error is."""

    #: The service named in exceptions and messages.
    PROVIDER: ClassVar[str] = "The provider"

    status_code: int
    #: The JSON object of the body; ``{}`` when the body is empty, not JSON or
    #: JSON that is not an object.
    fields: dict[str, Any]
    retry_after: int | None = None

    @property
    def error_code(self) -> str | None:
        """The API's error code, as digits."""
        raise NotImplementedError

    @property
    def provider_message(self) -> str | None:
        """The API's own explanation, cut to a length fit for a log line."""
        raise NotImplementedError

    @property
    def failed(self) -> bool:
        """Whether the answer is logged as a failed request."""
        raise NotImplementedError

    def error(self, cls: type[Authy2FAError], message: str) -> Authy2FAError:
        """The exception ``cls`` for this answer, carrying what the provider said.

        A class outside ProviderError (an expired or malformed code) is the
        user's to fix: only its message goes with it.
        """
        if not issubclass(cls, ProviderError):
            return cls(message)
        kwargs: dict[str, Any] = {
            "provider": self.PROVIDER,
            "status_code": self.status_code,
            "error_code": self.error_code,
            "provider_message": self.provider_message,
        }
        if issubclass(cls, ProviderThrottled):
            return cls(message, retry_after=self.retry_after, **kwargs)
        return cls(message, **kwargs)

    def unexpected(self, what: str) -> ProviderUnavailable:
        """The API said success, but the body lacks what the endpoint promises."""
        return ProviderUnavailable(
            f"{self.PROVIDER} sent an unexpected answer ({what}).",
            provider=self.PROVIDER,
            status_code=self.status_code,
            provider_message=self.provider_message,
        )


# --- Input and configuration checks (all before any network) ----------------------------


def clean_email(email: Any) -> str:
    """An e-mail address as Django validates it, at most 254 characters (RFC 5321)."""
    if not isinstance(email, str) or len(email) > MAX_EMAIL_LENGTH:
        raise InvalidInput(_("Enter a valid email address."))
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(_("Enter a valid email address.")) from None
    return email


def clean_locale(locale: Any) -> str:
    """A language tag; anything else could add fields to a query or a form."""
    if not isinstance(locale, str) or not _LOCALE_RE.fullmatch(locale):
        raise InvalidInput("locale must be a language tag such as 'es' or 'pt-BR'.")
    return locale


def path_segment(value: str) -> str:
    """A validated identifier quoted anyway, so a loosened validator cannot change a path."""
    return quote(value, safe="")


def check_secret(value: Any, what: str, max_length: int | None = None) -> str:
    """A credential: a non-empty run of printable ASCII.

    Whitespace is refused rather than stripped: it is nearly always a newline
    copied from a secrets file, and the provider would only say "unauthorized".
    """
    if not isinstance(value, str) or not value:
        raise Authy2FAConfigurationError(f"{what} is missing (it must be a non-empty string).")
    if (max_length is not None and len(value) > max_length) or not _PRINTABLE_RE.fullmatch(value):
        raise Authy2FAConfigurationError(f"{what} contains whitespace or non-printable characters.")
    return value


def check_api_url(api_url: Any, provider: str) -> str:
    """The base URL without its trailing slash: https, or plain http to a loopback host.

    Credentials, a query or a fragment in it would go with every request (or
    be silently dropped), so they are refused rather than guessed at.
    """
    if not isinstance(api_url, str):
        raise Authy2FAConfigurationError(f"The {provider} API URL must be a string.")
    try:
        parts = urlsplit(api_url)
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError for a malformed port
    except ValueError:
        raise Authy2FAConfigurationError(f"The {provider} API URL is malformed.") from None
    if not host or parts.username or parts.password or parts.query or parts.fragment:
        raise Authy2FAConfigurationError(
            f"The {provider} API URL must be scheme://host[:port][/path] "
            "without credentials, query or fragment."
        )
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host)):
        return api_url.rstrip("/")
    raise Authy2FAConfigurationError(
        f"The {provider} API URL must use https (plain http is allowed only to a loopback host)."
    )


def is_loopback(host: str) -> bool:
    """Whether plain http may go there: only a test server on this machine."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_timeout(timeout: Any, provider: str) -> Timeout:
    """Seconds, or a (connect, read) pair: requests' ``None`` would wait forever."""
    values = timeout if isinstance(timeout, tuple) else (timeout,)
    if len(values) not in (1, 2) or not all(is_positive_number(v) for v in values):
        raise Authy2FAConfigurationError(
            f"The {provider} timeout must be a positive number of seconds "
            "or a (connect, read) pair."
        )
    return timeout


def is_positive_number(value: Any) -> bool:
    """A finite number above zero; bool is an int but never a duration."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


# --- Transport -------------------------------------------------------------------------

#: What one exchange may raise besides a bad body: requests' errors, and the
#: urllib3 / http.client / socket errors that raw body reads raise unwrapped.
TRANSPORT_ERRORS: Final = (
    requests.RequestException,
    Urllib3HTTPError,
    http.client.HTTPException,
    OSError,
)


class BodyRejected(Exception):
    """The response body was too large or arrived too slowly."""

    status_code: int | None = None


class NoCredentials(AuthBase):
    """An explicit "no HTTP credentials", for an API that authenticates by its own header.

    Any ``auth=`` stops requests from looking a password up in ``~/.netrc``
    (a caller's session may trust the environment) and from applying the
    session's own ``auth``; this one also drops an Authorization header the
    session would add, so credentials meant for another host never leave.
    """

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request


NO_CREDENTIALS: Final = NoCredentials()


class _DeadlineReader(io.RawIOBase):
    """Socket reads that share one deadline: the whole answer within the read timeout.

    A socket timeout bounds each read, not their sum: a server that sends its
    status line and headers a byte at a time would otherwise hold the request
    (and the worker) for as long as it likes. Before each read the socket's
    timeout becomes the time left, capped by the per-read timeout.
    """

    def __init__(self, sock: Any, read_timeout: float) -> None:
        super().__init__()
        self._sock = sock
        self._read_timeout = read_timeout
        self._deadline = time.monotonic() + read_timeout
        # makefile() keeps the socket open while this reader lives, as the
        # reader http.client would have made does ("Connection: close").
        self._inner = sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            # socket.timeout: urllib3 and requests report it as a read timeout.
            raise TimeoutError("the answer did not arrive within the read timeout")
        self._sock.settimeout(min(self._read_timeout, remaining))
        return self._inner.readinto(buffer)

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
            # Hand the socket back with its own timeout: after a proxy's CONNECT
            # answer it goes on to the TLS handshake, which must not inherit
            # whatever was left of this answer's deadline.
            with contextlib.suppress(OSError):
                self._sock.settimeout(self._read_timeout)
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    """http.client's response, reading through a :class:`_DeadlineReader`.

    urllib3 sets the socket's timeout to the read timeout just before it
    builds the response, so that is the budget for the whole answer.
    """

    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        read_timeout = sock.gettimeout()
        if read_timeout:
            self.fp.close()
            self.fp = io.BufferedReader(_DeadlineReader(sock, read_timeout))


class _DeadlineHTTPConnection(HTTPConnection):
    response_class = _DeadlineResponse


class _DeadlineHTTPSConnection(HTTPSConnection):
    response_class = _DeadlineResponse


class _DeadlineHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_DEADLINE_POOLS: Final = {
    "http": _DeadlineHTTPConnectionPool,
    "https": _DeadlineHTTPSConnectionPool,
}


class DeadlineAdapter(HTTPAdapter):
    """An adapter whose connections must deliver each whole answer within the read timeout.

    Direct and HTTP(S)-proxied connections get the deadline; SOCKS proxies
    keep urllib3's own connection classes (and only the per-read timeout).
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self._use_deadline_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            self._use_deadline_pools(manager)
        return manager

    @staticmethod
    def _use_deadline_pools(manager: PoolManager) -> None:
        manager.pool_classes_by_scheme = dict(_DEADLINE_POOLS)


def new_session() -> requests.Session:
    """A private connection pool that never retries, with one deadline per answer.

    ``max_retries=0``: a retried send is a second SMS, a retried check spends
    one of the user's attempts. Cookies are refused: the APIs are stateless,
    and a load balancer's cookie must not make one user's request depend on
    another's. The environment's proxy and CA-bundle variables are honoured
    (servers often reach the internet through an egress proxy), read once by
    :func:`settle_environment`; ``~/.netrc`` never is, because every request
    passes an explicit ``auth``.
    """
    session = requests.Session()
    adapter = DeadlineAdapter(pool_connections=1, pool_maxsize=10, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return session


def settle_environment(session: requests.Session, url: str) -> None:
    """Read the proxy and CA-bundle variables once for ``url``, not on every request.

    With ``trust_env`` on, requests scans the whole environment on every
    request (about a third of a call's CPU, measured); a client talks to one
    host, so one reading at start-up serves. ``NO_PROXY`` is applied to that
    host here. ``trust_env`` off also keeps ``~/.netrc`` out for good.
    """
    session.proxies.update(requests.utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False


def read_limited(response: requests.Response, read_timeout: float) -> bytes:
    """Read the whole body, refusing one that is huge or trickles in.

    ``timeout`` in requests bounds each socket read, not the total: a server
    sending one byte every few seconds would otherwise hold a worker forever.
    """
    declared = response.headers.get("Content-Length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise BodyRejected("too large")
    deadline = time.monotonic() + read_timeout
    read = getattr(response.raw, "read1", None) or response.raw.read
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = read(READ_CHUNK, decode_content=True)
        except ReadTimeoutError:
            # The answer's deadline (DeadlineAdapter) passed while the body trickled in.
            raise BodyRejected("too slow") from None
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise BodyRejected("too large")
        if time.monotonic() > deadline:
            raise BodyRejected("too slow")
        chunks.append(chunk)


def transport_message(err: BaseException, provider: str) -> str:
    """What the user-facing error says about a failed exchange: when, not why."""
    if isinstance(err, requests.ConnectTimeout):
        return f"Could not connect to {provider} in time."
    if isinstance(err, requests.Timeout):
        return f"{provider} did not answer in time."
    if isinstance(err, requests.ConnectionError):
        return f"Could not connect to {provider}."
    return f"The request to {provider} failed."


def detached(err: BaseException, text: str | None = None) -> BaseException:
    """A copy of a transport error with no traceback and no request.

    The original's frames hold the credentials and the request body as locals,
    and ``err.request`` holds both as well; error trackers that ignore
    Django's ``sensitive_variables`` would record them. ``text`` replaces the
    message when the original's (which quotes the URL) may carry a secret.
    """
    text = str(err) if text is None else text
    try:
        return type(err)(text)
    except Exception:  # an exception class with a different constructor
        return requests.RequestException(text)


# --- The client base -------------------------------------------------------------------

R = TypeVar("R", bound=Reply)
C = TypeVar("C", bound="ApiClient[Any]")


class ApiClient(Generic[R]):
    """One pooled session, one way to send a request and read its answer.

    Subclasses set :attr:`PROVIDER`, :attr:`LOGGER` (their module's logger, so
    log records keep their names) and ``_reply_type``, check their own
    settings, then call ``super().__init__``; they add the endpoints.
    """

    #: The service named in messages, logs and ``ProviderError.provider``.
    PROVIDER: ClassVar[str]
    LOGGER: ClassVar[logging.Logger]
    DEFAULT_TIMEOUT: Final = DEFAULT_TIMEOUT

    _reply_type: type[R]
    #: What goes as ``auth=``: never nothing, see :class:`NoCredentials`.
    _auth: AuthBase | tuple[str, str] = NO_CREDENTIALS

    def __init__(self, api_url: str, timeout: Timeout, session: requests.Session | None) -> None:
        """Check the endpoint and timeout, then adopt ``session`` or open a private pool.

        Subclasses check their own settings first, so that a bad setting never
        leaves an unclosed session behind.
        """
        self.api_url = check_api_url(api_url, self.PROVIDER)
        self.timeout = check_timeout(timeout, self.PROVIDER)
        self._owns_session = session is None
        self._session = session if session is not None else new_session()
        if self._owns_session:
            settle_environment(self._session, self.api_url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api_url={self.api_url!r})"

    def close(self) -> None:
        """Close the connection pool (only if this client created it)."""
        if self._owns_session:
            self._session.close()

    def __enter__(self: C) -> C:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- Hooks -----------------------------------------------------------------------

    def _headers(self, has_body: bool) -> dict[str, str]:
        """Headers for one request.

        Per request rather than on the session: a caller-supplied session may
        talk to other hosts, which must never see the credentials.
        """
        return {"Accept": "application/json", "User-Agent": USER_AGENT}

    def _encode_body(self, body: Mapping[str, Any]) -> bytes | dict[str, Any]:
        """The body as requests should send it; a dict is sent as a form."""
        return dict(body)

    def _failure_cause(
        self, err: BaseException, endpoint: str, secret_in_url: bool
    ) -> BaseException:
        """The cause chained to a transport failure: a copy without frames or request."""
        if secret_in_url:
            name = type(err).__name__
            return detached(
                err, f"{name} during the {self.PROVIDER} {endpoint} request (details redacted)"
            )
        return detached(err)

    # --- Plumbing --------------------------------------------------------------------

    @sensitive_variables(*SENSITIVE_NAMES)
    def _send(
        self,
        method: str,
        endpoint: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, str] | None = None,
        secret_in_url: bool = False,
    ) -> R:
        """Make one request and parse the answer; transport failures raise ProviderUnavailable.

        ``endpoint`` is a fixed name used in logs instead of the URL;
        ``secret_in_url`` says that the URL carries a secret, so not even the
        text of the transport error may be kept.
        """
        started = time.monotonic()
        failure: BaseException | None = None
        try:
            status_code, headers, raw = self._exchange(method, path, params, body)
        except (BodyRejected, *TRANSPORT_ERRORS) as err:
            failure = err
        if failure is not None:
            # Raised here, outside the except block, so the original error is
            # not attached implicitly as __context__ as well.
            raise self._transport_failure(failure, endpoint, secret_in_url)
        reply = self._reply_type(
            status_code=status_code,
            fields=parse_fields(raw),
            retry_after=parse_retry_after(headers.get("Retry-After")),
        )
        self._log_reply(endpoint, reply, started)
        return reply

    @sensitive_variables(*SENSITIVE_NAMES)
    def _exchange(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Mapping[str, Any] | None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send one request and read its bounded body.

        The ``sensitive_variables`` names here mask the locals of every
        requests, urllib3 and http.client frame below this one.
        """
        url = self.api_url + path
        data = None if body is None else self._encode_body(body)
        headers = self._headers(body is not None)
        if self._owns_session:
            response = self._send_privately(method, url, params, data, headers)
        else:
            response = self._session.request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                auth=self._auth,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            )
        try:
            try:
                raw = read_limited(response, self._read_timeout())
            except BodyRejected as err:
                err.status_code = response.status_code
                raise
        finally:
            # After a complete read the connection is already back in the pool;
            # this only discards a connection abandoned mid-body.
            response.close()
        return response.status_code, response.headers, raw

    @sensitive_variables(*SENSITIVE_NAMES)
    def _send_privately(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        data: bytes | dict[str, Any] | None,
        headers: dict[str, str],
    ) -> requests.Response:
        """Send through this client's own pool, skipping the session's per-call merging.

        ``Session.request`` merges the session's headers, parameters, hooks,
        cookies and environment into every request; on a private session all
        of those are fixed at start-up (:func:`new_session`,
        :func:`settle_environment`), so the request is prepared with exactly
        what the session would have added and handed to its adapter, which is
        also where test doubles such as ``responses`` intercept. On a fast
        network that merging is a large share of a call's cost (the Authy
        client benchmark). Redirects are never followed and cookies are
        refused either way; a test compares the two paths on the wire.
        """
        session = self._session
        prepared = requests.PreparedRequest()
        prepared.prepare(
            method=method,
            url=url,
            params=params,  # encoded as Session.request would
            # The session's defaults first, so the client's own headers win.
            headers={**session.headers, **headers},
            data=data,
            auth=self._auth,
        )
        return session.get_adapter(url).send(
            prepared,
            stream=True,
            timeout=self.timeout,
            verify=session.verify,
            cert=session.cert,
            proxies=session.proxies,
        )

    def _read_timeout(self) -> float:
        """The read timeout, which :func:`read_limited` also uses for the whole body."""
        return self.timeout[-1] if isinstance(self.timeout, tuple) else self.timeout

    def _log_reply(self, endpoint: str, reply: R, started: float) -> None:
        # The provider goes into the format string, not the arguments, so that
        # records keep the templates log aggregators group them by.
        self.LOGGER.debug(
            f"{self.PROVIDER} %s: HTTP %s in %.0f ms",
            endpoint,
            reply.status_code,
            (time.monotonic() - started) * 1000,
        )
        if reply.failed:
            self.LOGGER.info(
                f"{self.PROVIDER} %s failed: HTTP %s, error code %s",
                endpoint,
                reply.status_code,
                reply.error_code or "none",
            )

    def _transport_failure(
        self, err: BaseException, endpoint: str, secret_in_url: bool
    ) -> ProviderUnavailable:
        """The ProviderUnavailable for a failed exchange, chained to a safe cause."""
        provider = self.PROVIDER
        if isinstance(err, BodyRejected):
            self.LOGGER.warning(f"{provider} %s answer rejected: body %s", endpoint, err)
            return ProviderUnavailable(
                f"{provider} sent an unusable answer.",
                provider=provider,
                status_code=err.status_code,
            )
        self.LOGGER.warning(f"{provider} %s request failed: %s", endpoint, type(err).__name__)
        failure = ProviderUnavailable(transport_message(err, provider), provider=provider)
        # What "raise failure from cause" does, so the caller can raise it later.
        failure.__cause__ = self._failure_cause(err, endpoint, secret_in_url)
        failure.__suppress_context__ = True
        return failure
