"""`connections remove` and the certificate the removed connection signed in with (issue 19, item 6): the one
automatic registration made for its app leaves the personal store with it, key included; one imported by hand
stays, and the command says it is unused and how to remove it (or removes it with `--delete-certificate`); one
another connection uses stays without a word."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import run_workbench
from tests.e2e.test_registration_cli import automatic, ours
from tests.factories import CLIENT, PFX_PASSWORD, TENANT
from workbench.lab import Lab


def vault_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*vault*") if p.is_file())


def certs(home: Path) -> list[str]:
    return [c["thumbprint"] for c in json.loads(run_workbench(home, "certs", "list", "--json").stdout)]


def test_removing_with_the_app_removes_the_certificate_registration_made_for_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Lab(mailboxes=2, auto_approve=0) as lab:  # approved at once (see test_registration_cli)
        added = run_workbench(home, *automatic(lab, "--name", "Contoso (auto)", "--yes"))
        assert added.returncode == 0, added.stdout + added.stderr
        shown = json.loads(run_workbench(home, "connections", "show", "Contoso (auto)", "--json").stdout)
        thumbprint = shown["settings"]["credential"]["thumbprint"]
        assert certs(home) == [thumbprint] and f"cert-key:{thumbprint}".encode() in vault_bytes(home)
        removed = run_workbench(home, "connections", "remove", "Contoso (auto)", "--delete-app")
        assert removed.returncode == 0, removed.stdout + removed.stderr
        assert ours(lab) == []
    assert f"certificate {thumbprint}" in removed.stdout and "private key" in removed.stdout
    assert certs(home) == []
    assert f"cert-key:{thumbprint}".encode() not in vault_bytes(home)  # the private key left the vault


def manual(home: Path, thumbprint: str, name: str) -> None:
    added = run_workbench(
        home,
        "connections",
        "add",
        "m365",
        "--tenant-id",
        TENANT,
        "--client-id",
        CLIENT,
        "--app-account",
        "backup@contoso.com",
        "--certificate-thumbprint",
        thumbprint,
        "--name",
        name,
    )
    assert added.returncode == 0, added.stderr


def test_a_hand_imported_certificate_is_offered_for_removal_never_removed_silently(
    tmp_path: Path, cert_files: dict[str, Path]
) -> None:
    home = tmp_path / "home"
    imported = run_workbench(home, "certs", "import", str(cert_files["pfx"]), "--password-stdin", stdin=PFX_PASSWORD)
    thumbprint = imported.stdout.strip()
    manual(home, thumbprint, "A")
    manual(home, thumbprint, "B")

    first = run_workbench(home, "connections", "remove", "A")
    assert first.returncode == 0, first.stderr
    assert thumbprint not in first.stdout + first.stderr  # B still uses it: nothing to say, nothing removed

    last = run_workbench(home, "connections", "remove", "B")
    assert last.returncode == 0, last.stderr
    assert f"Certificate {thumbprint}" in last.stderr and "no longer used by any connection" in last.stderr
    assert f"workbench certs remove {thumbprint}" in last.stderr
    assert certs(home) == [thumbprint]

    manual(home, thumbprint, "C")
    deleted = run_workbench(home, "connections", "remove", "C", "--delete-certificate")
    assert deleted.returncode == 0, deleted.stderr
    assert f"Removed certificate {thumbprint}" in deleted.stdout
    assert certs(home) == []
    assert f"cert-key:{thumbprint}".encode() not in vault_bytes(home)
