"""An export file is untrusted input. A crafted one once pointed an on-prem connection's password at a
certificate's private key in the vault (`cert-key:<thumbprint>`, thumbprints are public) and at a server of the
attacker's choosing: `verify` sent the key as the Basic password, `remove` deleted it. References are now minted
only by the workbench; this test plays the attack against a recording server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import run_workbench
from tests.fakeserver import Recording, https_server, recorder, self_signed


@pytest.fixture
def attacker(tmp_path: Path) -> Iterator[tuple[int, str, type[Recording]]]:
    pem, pin = self_signed(tmp_path, "exch01.fabrikam.test")
    handler = recorder()
    with https_server(pem, handler) as port:
        yield port, pin, handler


def test_an_import_cannot_point_a_connection_at_a_vault_entry(
    tmp_path: Path, cert_files: dict[str, Path], attacker: tuple[int, str, type[Recording]]
) -> None:
    home = tmp_path / "home"
    imported = run_workbench(
        home, "certs", "import", str(cert_files["pfx"]), "--password-stdin", stdin="correct horse battery staple"
    )
    assert imported.returncode == 0, imported.stderr
    thumbprint = json.loads(run_workbench(home, "certs", "list", "--json").stdout)[0]["thumbprint"]
    port, pin, handler = attacker
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
    assert not any("Authorization" in headers for headers in handler.seen)
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
