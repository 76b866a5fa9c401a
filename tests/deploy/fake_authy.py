"""One fake Authy API for several app server processes, and the OneTouch callbacks it signs.

The server is the fault suite's :class:`~tests.faults.server.FaultServer` (a
real socket on 127.0.0.1); :class:`FakeAuthy` is its ``healthy`` answer, with
state: the approval requests the app servers created, each ``pending`` until
the test approves or denies it. Codes (SMS, call, verify) get the fault
suite's healthy Authy answers, so a login can fall back to them.

Shapes follow Authy's OneTouch API documentation: creating a request answers
``{"approval_request": {"uuid": ...}, "success": true}``; its status is
``approval_request.status``; an unknown uuid is a 404 without ``errors``.
"""

from __future__ import annotations

import re
import threading
import time
import uuid as uuid_module
from dataclasses import dataclass
from typing import Any

from django_authy2fa.clients.authy import compute_callback_signature

from ..contract import authy_fixtures as authy_fx
from ..faults.server import Seen
from ..faults.support import authy_healthy
from .support import AppServer, Client

#: Where the example project serves the OneTouch callback.
CALLBACK_PATH = "/account/2fa/callbacks/authy/"

_CREATE = re.compile(r"/onetouch/json/users/([0-9]+)/approval_requests")
_STATUS = re.compile(r"/onetouch/json/approval_requests/([0-9a-fA-F-]{36})")
_STATUSES = ("pending", "approved", "denied", "expired")


@dataclass
class Approval:
    uuid: str
    authy_id: str
    status: str = "pending"


class FakeAuthy:
    """The OneTouch part of Authy, shared by every app server that calls it.

    Pass :meth:`answer` as the ``healthy`` answer of a ``FaultServer``; the
    server calls it from one thread per request, hence the lock.
    """

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self._approvals: dict[str, Approval] = {}
        self._lock = threading.Lock()

    def answer(self, seen: Seen) -> tuple[int, Any]:
        headers = {name.lower(): value for name, value in seen.headers.items()}
        if headers.get("x-authy-api-key") != self.api_key:
            return 401, authy_fx.INVALID_API_KEY
        created = _CREATE.fullmatch(seen.path)
        if created and seen.method == "POST":
            approval = Approval(uuid=str(uuid_module.uuid4()), authy_id=created.group(1))
            with self._lock:
                self._approvals[approval.uuid] = approval
            return 200, {"approval_request": {"uuid": approval.uuid}, "success": True}
        asked = _STATUS.fullmatch(seen.path)
        if asked and seen.method == "GET":
            with self._lock:
                approval = self._approvals.get(asked.group(1).lower())
                status = approval.status if approval else ""
            if approval is None:
                return 404, authy_fx.APPROVAL_NOT_FOUND
            body = authy_fx.approval_status_body(status, approval.uuid)
            body["approval_request"]["_authy_id"] = approval.authy_id
            return 200, body
        return authy_healthy(seen)

    def approvals_for(self, authy_id: str) -> list[str]:
        """The uuids of the approval requests created for ``authy_id``, oldest first."""
        with self._lock:
            return [a.uuid for a in self._approvals.values() if a.authy_id == authy_id]

    def only_approval_for(self, authy_id: str) -> str:
        uuids = self.approvals_for(authy_id)
        assert len(uuids) == 1, f"{len(uuids)} approval requests for Authy ID {authy_id}"
        return uuids[0]

    def set_status(self, uuid: str, status: str) -> None:
        """What the user did in the app, as a poll of Authy will then see it."""
        assert status in _STATUSES, status
        with self._lock:
            self._approvals[uuid].status = status

    def status_of(self, uuid: str) -> str:
        with self._lock:
            return self._approvals[uuid].status


#: The callback URL set in Authy's console: the site's public name, which the
#: load balancer passes on in ``Host``. Every app server rebuilds the same URL
#: from it, so one signed callback is valid on whichever server it reaches.
PUBLIC_HOST = "localhost"


@dataclass(frozen=True)
class Callback:
    """One signed OneTouch callback, kept so that it can be sent again unchanged."""

    body: dict[str, Any]
    headers: dict[str, str]

    def post(self, sender: Client, server: AppServer):
        """Deliver it through the load balancer to ``server``."""
        return sender.post_json(server, CALLBACK_PATH, self.body, headers=self.headers)


def signed_callback(
    api_key: str,
    uuid: str,
    status: str,
    *,
    authy_id: str,
    nonce: str | None = None,
) -> Callback:
    """The POST callback Authy sends when the user answers, signed with ``api_key``.

    The body has the documented shape (shortened); the signature is the
    HMAC-SHA256 of the nonce, the method, the public URL and the flattened body
    (Authy's callback signature), so a changed body, URL or key makes it invalid.
    """
    now = int(time.time())
    body = {
        "authy_id": int(authy_id),
        "device_uuid": 2102943,
        "callback_action": "approval_request_status",
        "uuid": uuid,
        "status": status,
        "approval_request": {
            "transaction": {
                "details": {"From": "203.0.113.1"},
                "device_details": {},
                "device_geolocation": "",
                "encrypted": False,
                "flagged": False,
                "hidden_details": {},
                "message": "Log in?",
                "reason": "",
                "requester_details": None,
                "status": status,
                "uuid": uuid,
                "created_at_time": now,
            },
            "expiration_timestamp": now + 120,
            "logos": None,
        },
        "signature": "device-signature-not-checked-by-the-site",
        "device": {"os_type": "android", "registration_method": "sms", "id": 2102943},
    }
    nonce = nonce or f"{time.time():.6f}"
    signature = compute_callback_signature(
        api_key,
        url=f"http://{PUBLIC_HOST}{CALLBACK_PATH}",
        method="POST",
        params=body,
        nonce=nonce,
    )
    headers = {
        "Host": PUBLIC_HOST,
        "X-Authy-Signature": signature,
        "X-Authy-Signature-Nonce": nonce,
    }
    return Callback(body=body, headers=headers)
