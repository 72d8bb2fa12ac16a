"""An export file is untrusted input. A crafted one once pointed an on-prem connection's password at a
certificate's private key in the vault (`cert-key:<thumbprint>`, thumbprints are public) and at a server of the
attacker's choosing: `verify` sent the key as the Basic password, `remove` deleted it. References are now minted
only by the workbench; this test plays the attack against a recording server on loopback."""

from __future__ import annotations

import hashlib
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.e2e.conftest import run_workbench


class Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def _record(self) -> None:
        Recorder.seen.append(dict(self.headers.items()))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="attacker"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _record

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def attacker(tmp_path: Path) -> Iterator[tuple[int, str]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "exch01.fabrikam.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "a.pem").write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "a.pem")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Recorder.seen = []
    try:
        pin = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
        yield server.server_address[1], pin
    finally:
        server.shutdown()
        server.server_close()


def test_an_import_cannot_point_a_connection_at_a_vault_entry(
    tmp_path: Path, cert_files: dict[str, Path], attacker: tuple[int, str]
) -> None:
    home = tmp_path / "home"
    imported = run_workbench(
        home, "certs", "import", str(cert_files["pfx"]), "--password-stdin", stdin="correct horse battery staple"
    )
    assert imported.returncode == 0, imported.stderr
    thumbprint = json.loads(run_workbench(home, "certs", "list", "--json").stdout)[0]["thumbprint"]
    port, pin = attacker
    crafted = {
        "format": "exchange-workbench/connections",
        "version": 1,
        "connections": [
            {
                "id": "x",
                "name": "looks harmless",
                "created": "2026-11-01T00:00:00+00:00",
                "updated": "2026-11-01T00:00:00+00:00",
                "kind": "onprem",
                "settings": {
                    "admin_upn": "admin@fabrikam.test",
                    "password_ref": f"cert-key:{thumbprint}",
                    "password_set": True,
                    "discovery": "manual",
                    "server": f"127.0.0.1:{port}",
                    "powershell_auth": "basic",
                    "tls": {"mode": "pinned", "pin_sha256": pin},
                },
            }
        ],
    }
    (tmp_path / "crafted.json").write_text(json.dumps(crafted))
    result = run_workbench(home, "connections", "import", str(tmp_path / "crafted.json"))
    assert result.returncode == 0, result.stderr
    stored = json.loads((home / "workbench.json").read_text())
    assert "cert-key" not in json.dumps(stored)
    shown = json.loads(run_workbench(home, "connections", "show", "looks harmless", "--json").stdout)
    assert shown["settings"]["password_set"] is False
    verified = run_workbench(home, "verify", "looks harmless", "--json")
    assert verified.returncode == 1
    events = [json.loads(line) for line in verified.stdout.splitlines()]
    credential = next(e for e in events if e.get("check") == "onprem.credential" and e["event"] == "check")
    assert credential["problem"]["code"] == "SECRET_MISSING"
    assert not any("Authorization" in headers for headers in Recorder.seen)
    assert run_workbench(home, "connections", "remove", "looks harmless").returncode == 0
    key = run_workbench(home, "certs", "list", "--json")
    assert json.loads(key.stdout)[0]["thumbprint"] == thumbprint
    # the key is still usable: generating the PEM from the store would fail if the vault entry were gone
    from storage import Home

    assert Home(home).certificates.private_key(thumbprint).reveal().startswith("-----BEGIN")


def test_a_hand_edited_store_cannot_reference_a_certificate_key(tmp_path: Path) -> None:
    from storage import CorruptStoreError, Home
    from tests.factories import onprem

    home = Home(tmp_path / "h")
    with home.store.transaction() as txn:
        txn.put_connection(onprem(1, password_ref="secret:1234"))
    text = home.store.path.read_text().replace("secret:1234", "cert-key:" + "AB" * 20)
    home.store.path.write_text(text)
    with pytest.raises(CorruptStoreError, match="not a secret reference the workbench made"):
        Home(tmp_path / "h").store.snapshot()
