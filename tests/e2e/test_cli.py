"""The `workbench` command, run as a separate process exactly as an admin or a script would run it."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import run_workbench
from tests.factories import CLIENT, PFX_PASSWORD, TENANT

ROOT = Path(__file__).resolve().parents[2]
SECRET = "Xy7~Q.example-client-secret_value"
PASSWORD = "Exchange-Admin-P@ss"


class Workbench:
    def __init__(self, home: Path) -> None:
        self.home = home

    def __call__(
        self, *args: str, stdin: str | None = None, home: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_workbench(home or self.home, *args, stdin=stdin)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        result = self(*args, stdin=stdin)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def all_bytes(self) -> bytes:
        return b"".join(p.read_bytes() for p in self.home.rglob("*") if p.is_file())


@pytest.fixture
def wb(tmp_path: Path) -> Workbench:
    return Workbench(tmp_path / "cli-home")


M365 = [
    "connections",
    "add",
    "m365",
    "--tenant-id",
    TENANT,
    "--client-id",
    CLIENT,
    "--app-account",
    "backup@contoso.com",
]


def test_version_and_help(wb: Workbench) -> None:
    assert wb.ok("--version").startswith("workbench ")
    assert "connections" in wb.ok("--help")
    assert "--client-secret-stdin" in wb.ok("connections", "add", "m365", "--help")


def test_secret_on_the_command_line_is_not_an_option(wb: Workbench) -> None:
    result = wb(*M365, "--client-secret", SECRET)
    assert result.returncode == 2
    assert SECRET not in result.stderr or "unrecognized arguments" in result.stderr
    assert not wb.home.exists() or not (wb.home / "workbench.json").exists()


def test_add_m365_with_secret_from_stdin(wb: Workbench) -> None:
    assert "Added 'contoso.com'" in wb.ok(*M365, "--client-secret-stdin", stdin=SECRET + "\n")
    listing = wb.ok("connections", "list")
    assert "contoso.com" in listing and "client secret" in listing
    shown = json.loads(wb.ok("connections", "show", "CONTOSO.COM", "--json"))
    assert shown["settings"]["credential"] == {"type": "client-secret", "secret_set": True}
    assert SECRET.encode() not in wb.all_bytes()


def test_invalid_input_writes_nothing(wb: Workbench) -> None:
    result = wb(
        "connections",
        "add",
        "m365",
        "--tenant-id",
        "contoso.com",
        "--client-id",
        "12",
        "--app-account",
        "nobody",
        "--client-secret-stdin",
        stdin=SECRET,
    )
    assert result.returncode == 2
    assert "Tenant ID must be a GUID like 00000000-0000-0000-0000-000000000000" in result.stderr
    assert "Client ID must be a GUID" in result.stderr
    assert "Application account must be an address like backup@contoso.com" in result.stderr
    assert not (wb.home / "workbench.json").exists()


def test_secret_id_pasted_instead_of_value(wb: Workbench) -> None:
    result = wb(*M365, "--client-secret-stdin", stdin=CLIENT)
    assert result.returncode == 2 and "secret's ID" in result.stderr


def test_certificate_flow(wb: Workbench, cert_files: dict[str, Path]) -> None:
    missing = wb(*M365, "--certificate-thumbprint", "AB" * 20)
    assert missing.returncode == 2 and "certs import" in missing.stderr
    thumbprint = wb.ok("certs", "import", str(cert_files["pfx"]), "--password-stdin", stdin=PFX_PASSWORD).strip()
    der = cert_files["cert_der"].read_bytes()
    assert thumbprint == hashlib.sha1(der).hexdigest().upper()
    (listed,) = json.loads(wb.ok("certs", "list", "--json"))
    assert (listed["thumbprint"], listed["key_size"]) == (thumbprint, 2048)
    # pasted with spaces and lower case, as copied from a certificate dialog
    spaced = " ".join(thumbprint[i : i + 2] for i in range(0, 40, 2)).lower()
    wb.ok(*M365, "--certificate-thumbprint", spaced, "--name", "Contoso (certificate)")
    shown = json.loads(wb.ok("connections", "show", "Contoso (certificate)", "--json"))
    assert shown["settings"]["credential"]["thumbprint"] == thumbprint
    in_use = wb("certs", "remove", thumbprint)
    assert in_use.returncode == 1 and "used by Contoso (certificate)" in in_use.stderr


def test_weak_certificate_is_refused(wb: Workbench, cert_files: dict[str, Path]) -> None:
    result = wb("certs", "import", str(cert_files["pfx_1024"]), "--password-stdin", stdin=PFX_PASSWORD)
    assert result.returncode == 2 and "1024 bits" in result.stderr
    wrong = wb("certs", "import", str(cert_files["pfx"]), "--password-stdin", stdin="nope")
    assert wrong.returncode == 2 and "PFX password is wrong" in wrong.stderr
    assert json.loads(wb.ok("certs", "list", "--json")) == []


def test_generate_writes_the_public_part(wb: Workbench, tmp_path: Path) -> None:
    out = tmp_path / "app.pem"
    thumbprint = wb.ok(
        "certs", "generate", "--subject", "CN=Backup App", "--days", "30", "--cert-out", str(out)
    ).strip()
    assert len(thumbprint) == 40
    assert out.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE" not in out.read_text()
    assert "RSA 2048" in wb.ok("certs", "list")


def test_onprem_by_ip_warns_and_uses_basic(wb: Workbench) -> None:
    result = wb(
        "connections",
        "add",
        "onprem",
        "--server",
        "127.0.0.1:8443",
        "--admin-upn",
        "admin@contoso.com",
        "--password-stdin",
        stdin=PASSWORD,
    )
    assert result.returncode == 0, result.stderr
    assert "127.0.0.1 is an IP address: remote PowerShell will need Basic authentication" in result.stderr
    shown = json.loads(wb.ok("connections", "show", "admin@contoso.com", "--json"))
    assert shown["settings"]["powershell_auth"] == "basic"
    assert shown["settings"]["ews_url"] == "https://127.0.0.1:8443/EWS/Exchange.asmx"
    assert shown["settings"]["password_set"] is True
    assert PASSWORD.encode() not in wb.all_bytes()


def test_onprem_autodiscover_and_duplicate_name(wb: Workbench) -> None:
    args = [
        "connections",
        "add",
        "onprem",
        "--autodiscover",
        "--admin-upn",
        "admin@contoso.com",
        "--dns-server",
        "127.0.0.1:5353",
        "--password-stdin",
    ]
    wb.ok(*args, stdin=PASSWORD)
    again = wb(*args, stdin=PASSWORD)
    assert again.returncode == 2 and "already exists" in again.stderr and "--name" in again.stderr
    assert len(json.loads(wb.ok("connections", "list", "--json"))) == 1


def test_remove_takes_the_secret_with_it(wb: Workbench) -> None:
    wb.ok(*M365, "--client-secret-stdin", stdin=SECRET)
    assert "Removed 'contoso.com'" in wb.ok("connections", "remove", "contoso.com")
    assert json.loads((wb.home / "vault.json").read_text())["entries"] == {}
    missing = wb("connections", "remove", "contoso.com")
    assert missing.returncode == 2 and "No connection named 'contoso.com'" in missing.stderr


def test_export_import_round_trip(wb: Workbench, tmp_path: Path) -> None:
    wb.ok(*M365, "--client-secret-stdin", stdin=SECRET)
    wb.ok(
        "connections",
        "add",
        "onprem",
        "--server",
        "mail.contoso.com",
        "--admin-upn",
        "admin@contoso.com",
        "--password-stdin",
        stdin=PASSWORD,
    )
    export = tmp_path / "export.json"
    wb.ok("connections", "export", "--output", str(export))
    text = export.read_text()
    assert SECRET not in text and PASSWORD not in text and "secret:" not in text
    other = tmp_path / "other-home"
    imported = wb("connections", "import", str(export), home=other)
    assert imported.returncode == 0, imported.stderr
    assert "has no secret yet" in imported.stderr
    names = [c["name"] for c in json.loads(wb("connections", "list", "--json", home=other).stdout)]
    assert names == ["admin@contoso.com", "contoso.com"]
    twice = wb("connections", "import", str(export), home=other)
    assert twice.returncode == 2 and "nothing was imported" in twice.stderr
    result = wb("connections", "set-secret", "contoso.com", "--stdin", stdin=SECRET, home=other)
    assert result.returncode == 0, result.stderr
    shown = json.loads(wb("connections", "show", "contoso.com", "--json", home=other).stdout)
    assert shown["settings"]["credential"]["secret_set"] is True


def test_import_rejects_bad_files(wb: Workbench, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something-else"}')
    result = wb("connections", "import", str(bad))
    assert result.returncode == 2 and "is not a workbench export" in result.stderr
    doc = {"format": "exchange-workbench/connections", "version": 1, "connections": [{"kind": "m365"}]}
    bad.write_text(json.dumps(doc))
    result = wb("connections", "import", str(bad))
    assert result.returncode == 2 and "connections[0]: field 'settings' is missing" in result.stderr


def test_corrupt_store_is_reported_not_overwritten(wb: Workbench) -> None:
    wb.ok(*M365, "--client-secret-stdin", stdin=SECRET)
    store = wb.home / "workbench.json"
    store.write_text('{"_meta": {"1": {"schema": 1}}, "connections": {"1": {"kind": "m365"')
    result = wb("connections", "list")
    assert result.returncode == 1
    assert f"{store} is not a valid workbench store" in result.stderr
    assert "A copy was saved as" in result.stderr
    add = wb(
        "connections",
        "add",
        "onprem",
        "--autodiscover",
        "--admin-upn",
        "a@contoso.com",
        "--password-stdin",
        stdin="x",
    )
    assert add.returncode == 1
    assert store.read_text().endswith('"kind": "m365"')


def test_info(wb: Workbench) -> None:
    facts = json.loads(wb.ok("info", "--json"))
    assert facts["vault"] == "key-file" and facts["connections"] == 0
    assert facts["data_dir"] == str(wb.home)
    # The sign-in client of automatic registration, and where it came from.
    assert facts["sign_in_client"] == "14d82eec-204b-4c2f-b7e8-296a70dab67e"
    assert facts["sign_in_client_origin"] == "default"
    assert "Microsoft Graph Command Line Tools" in wb.ok("info")
    own = "3c9d8e7f-1a2b-4c5d-8e9f-0a1b2c3d4e5f"
    shown = run_workbench(wb.home, "info", env={"WORKBENCH_PUBLIC_CLIENT_ID": own})
    assert shown.returncode == 0 and f"{own} (from WORKBENCH_PUBLIC_CLIENT_ID)" in shown.stdout
    bad = run_workbench(wb.home, "info", "--json", env={"WORKBENCH_PUBLIC_CLIENT_ID": "not-a-guid\x1b[2J"})
    assert bad.returncode == 0 and json.loads(bad.stdout)["sign_in_client"] is None


def test_password_without_stdin_or_terminal(wb: Workbench) -> None:
    result = wb("connections", "add", "onprem", "--autodiscover", "--admin-upn", "a@contoso.com", stdin="")
    assert result.returncode == 2 and "--password-stdin" in result.stderr


def test_demo_verifies_sample_connections_on_the_lab(wb: Workbench) -> None:
    result = wb("demo", "--mailboxes", "20")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for name in (
        "Contoso (client secret)",
        "Contoso (certificate)",
        "Fabrikam (autodiscover)",
        "Contoso (mistyped secret)",
        "Fabrikam by name (certificate not trusted yet)",
    ):
        assert f"--- {name}" in out
    assert out.count("== PASSED") == 3 and out.count("== FAILED") == 2  # no terminal here: the text stream
    assert "AADSTS7000215" in out and "TLS_UNTRUSTED" in out and "DNS SRV _autodiscover._tcp.fabrikam.test" in out
    demo_dir = out.split("Demo data directory: ")[1].split()[0]
    assert not Path(demo_dir).exists()
    assert not wb.home.exists()  # the user's own data directory is never touched
