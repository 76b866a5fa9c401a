"""A local stand-in for Authy's verify endpoint: HTTP/1.1, keep-alive, one fixed answer.

``python -m benchmarks.authy_server`` prints the port it listens on (127.0.0.1
only) and answers ``GET /protected/json/verify/{token}/{id}`` with Authy's
success body until its standard input closes. Any other path gets a 404, so a
client pointed at the wrong place fails instead of looking fast.
"""

from __future__ import annotations

import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Authy's answer to a valid token, compact as Authy sends it (the official
# client looks for the substring '"token":"is valid"').
SUCCESS = (
    b'{"message":"Token is valid.","token":"is valid","success":"true",'
    b'"device":{"id":null,"os_type":"sms","registration_date":1500648405,'
    b'"registration_method":null,"registration_country":null,"registration_region":null,'
    b'"registration_city":null,"country":null,"region":null,"city":null,"ip":null,'
    b'"last_account_recovery_at":1494631010,"last_sync_date":null}}'
)
_VERIFY = re.compile(r"/protected/json/verify/[0-9]{6,10}/[0-9]{1,12}\?(.*&)?force=true(&.*)?")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless the client closes
    # The headers and the body go out in two writes; with Nagle's algorithm on,
    # the second waits for the client's delayed ACK (40 ms on Linux) on every
    # reused connection. Real API front ends do not stall like that.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        found = _VERIFY.fullmatch(self.path) and self.headers.get("X-Authy-API-Key")
        body = SUCCESS if found else b'{"message":"not found","success":false}'
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # the runner closes stdin to stop the server
    server.shutdown()


if __name__ == "__main__":
    main()
