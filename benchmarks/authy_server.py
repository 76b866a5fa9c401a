"""A local stand-in for Authy's verify endpoint: HTTP/1.1, keep-alive, one fixed answer.

``python -m benchmarks.authy_server`` prints the port it listens on (127.0.0.1
only) and answers ``GET /protected/json/verify/{token}/{id}`` with Authy's
success body until its standard input closes. Any other path gets a 404, so a
client pointed at the wrong place fails instead of looking fast.

``--tls`` serves HTTPS, as Authy's API does, with a self-signed certificate for
127.0.0.1 made on the spot; the second line printed is the certificate's path,
for the clients to trust.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import ssl
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

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


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A key and a certificate for 127.0.0.1, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / "key.pem", directory / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with tempfile.TemporaryDirectory(prefix="authy2fa-bench-tls-") as tmp:
        cert_path = None
        if "--tls" in sys.argv[1:]:
            key_path, cert_path = self_signed(Path(tmp))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert_path, key_path)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(server.server_address[1], flush=True)
        if cert_path is not None:
            print(cert_path, flush=True)
        sys.stdin.read()  # the runner closes stdin to stop the server
        server.shutdown()


if __name__ == "__main__":
    main()
