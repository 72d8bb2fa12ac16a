"""Mistakes and odd situations end in a clear message and an exit code, never a traceback or a wrong diagnosis,
and nothing is stored when a command fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import add_lab_connections, add_onprem, guarded_env, run_workbench
from workbench.lab import Lab


@pytest.fixture(scope="module")
def lab_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, Path]]:
    lab = Lab(mailboxes=3)
    lab.start()
    home = tmp_path_factory.mktemp("clear") / "home"
    add_lab_connections(home, lab)
    yield lab, home
    lab.stop()


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "1e300", "0", "-3"])
def test_bad_timeouts_are_bad_input(lab_home: tuple[Lab, Path], value: str) -> None:
    result = run_workbench(lab_home[1], "verify", "cloud", "--timeout", value)
    assert result.returncode == 2 and "--timeout" in result.stderr
    _no_traceback(result)


def test_a_replaced_vault_key_is_explained_not_internal(tmp_path: Path, lab_home: tuple[Lab, Path]) -> None:
    lab, _ = lab_home
    home = tmp_path / "home"
    add_lab_connections(home, lab)
    (home / "vault.key").write_bytes(os.urandom(32))
    result = run_workbench(home, "verify", "cloud", "--json")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    credential = next(e for e in events if e.get("check") == "m365.credential" and e["event"] == "check")
    assert credential["problem"]["code"] == "VAULT_UNAVAILABLE"
    assert "vault.key" in credential["detail"]
    _no_traceback(result)


def test_a_hand_edited_server_is_a_connection_problem(tmp_path: Path, lab_home: tuple[Lab, Path]) -> None:
    home = tmp_path / "home"
    added = add_onprem(home, "--name", "edited")
    assert added.returncode == 0, added.stderr
    store = home / "workbench.json"
    store.write_text(store.read_text().replace("exch01.fabrikam.test", "exch 01!"))
    result = run_workbench(home, "verify", "edited", "--json")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    locate = next(e for e in events if e.get("check") == "onprem.locate" and e["event"] == "check")
    assert locate["problem"]["code"] == "CONNECTION_INVALID" and "server" in locate["problem"]["title"]


def test_a_closed_pipe_ends_quietly(lab_home: tuple[Lab, Path]) -> None:
    _, home = lab_home
    command = [sys.executable, "-m", "workbench", "verify", "onprem"]
    pipeline = subprocess.run(
        ["sh", "-c", " ".join(f"'{part}'" for part in command) + " | head -1"],
        env=guarded_env(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert pipeline.stdout.count("\n") == 1
    assert "Traceback" not in pipeline.stderr and "BrokenPipe" not in pipeline.stderr, pipeline.stderr


def test_export_to_a_missing_directory_or_onto_a_directory(lab_home: tuple[Lab, Path], tmp_path: Path) -> None:
    _, home = lab_home
    for target in (tmp_path / "missing" / "out.json", tmp_path):
        result = run_workbench(home, "connections", "export", "-o", str(target))
        assert result.returncode == 1 and "Cannot write" in result.stderr
        _no_traceback(result)


def test_generate_with_an_unwritable_cert_out_stores_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run_workbench(home, "certs", "generate", "--cert-out", str(tmp_path / "missing" / "x.pem"))
    assert result.returncode == 2 and "nothing was stored" in result.stderr
    listed = run_workbench(home, "certs", "list", "--json")
    assert json.loads(listed.stdout or "[]") == []


def test_a_symlinked_lock_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "workbench.json.lock").symlink_to(tmp_path / "elsewhere")
    result = add_onprem(home)
    assert result.returncode == 1 and "symbolic link" in result.stderr and "rm " in result.stderr
    _no_traceback(result)


def test_an_overlong_ca_bundle_path_is_bad_input(tmp_path: Path) -> None:
    result = add_onprem(tmp_path / "home", "--ca-bundle", "/tmp/" + "a" * 300 + "/ca.pem")
    assert result.returncode == 2 and "CA bundle" in result.stderr
    _no_traceback(result)


def test_a_swapped_pinned_certificate_is_a_pin_mismatch() -> None:
    from tests.factories import onprem
    from workbench.checks.common import network_failure
    from workbench.checks.target import Target

    error = Exception('SSLError(Fingerprints did not match. Expected "ab", got "cd")')
    outcome = network_failure(error, Target(onprem(1), lambda r: None, lambda t: None), "exch01", 443)
    assert outcome is not None and outcome.problem is not None and outcome.problem.code == "TLS_PIN_MISMATCH"


def test_the_printed_trust_fix_changes_trust_and_keeps_the_connection(tmp_path: Path) -> None:
    from workbench.checks import problems
    from workbench.checks.fix_commands import workbench_command

    home = tmp_path / "home"
    added = add_onprem(home, "--name", "branch")
    assert added.returncode == 0, added.stderr
    problem = problems.TLS_UNTRUSTED.fill(fingerprint="AB" * 32, host="exch01.fabrikam.test")
    command = workbench_command(problems.Action.TRUST_CERTIFICATE, "branch", problem).split()
    assert command[:3] == ["workbench", "connections", "trust"] and "remove" not in command
    result = run_workbench(home, *command[1:])
    assert result.returncode == 0, result.stderr
    shown = json.loads(run_workbench(home, "connections", "show", "branch", "--json").stdout)
    tls = shown["settings"]["tls"]
    assert (tls["mode"], tls["pin_sha256"]) == ("pinned", "AB" * 32)
    assert shown["settings"]["password_set"] is True


def test_option_like_and_surrogate_names_are_refused() -> None:
    from workbench import validate

    with pytest.raises(validate.FieldError, match="option"):
        validate.connection_name("--all")
    with pytest.raises(validate.FieldError, match="surrogate"):
        validate.connection_name("a\ud800b")


def test_a_hand_edited_lone_surrogate_is_a_store_problem(tmp_path: Path) -> None:
    from storage import CorruptStoreError, Home
    from tests.factories import onprem

    home = Home(tmp_path / "h")
    with home.store.transaction() as txn:
        txn.put_connection(onprem(1, name="branch"))
    home.store.path.write_text(home.store.path.read_text().replace('"branch"', '"br\\ud800nch"'))
    with pytest.raises(CorruptStoreError, match="surrogate"):
        Home(tmp_path / "h").store.snapshot()


def test_problems_are_plain_data() -> None:
    import dataclasses

    from workbench.checks import problems

    filled = problems.ErrorImpersonateUserDenied.fill(account="admin@contoso.com", alias="admin", server="EXCH01")
    assert dataclasses.asdict(filled)["action"]["params"]["account"] == "admin@contoso.com"


def test_trust_with_an_empty_value_is_bad_input_and_keeps_the_pin(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert add_onprem(home, "--name", "pinned", "--pin-sha256", "AB" * 32).returncode == 0
    for option in ("--pin-sha256", "--ca-bundle"):
        result = run_workbench(home, "connections", "trust", "pinned", option, "")
        assert result.returncode == 2, (option, result.stderr)
    shown = json.loads(run_workbench(home, "connections", "show", "pinned", "--json").stdout)
    assert shown["settings"]["tls"]["pin_sha256"] == "AB" * 32


def test_names_cannot_pose_as_ids_and_imported_credentials_are_validated() -> None:
    from dataclasses import replace

    from tests.factories import m365, stamp
    from workbench import validate
    from workbench.drafts import DraftInvalid, revalidate
    from workbench.model import CertificateCredential, M365Settings

    with pytest.raises(validate.FieldError, match="connection id"):
        validate.connection_name("86163c4a-1d2e-4f5a-9b8c-0d1e2f3a4b5c")
    connection = m365(1)
    assert isinstance(connection.settings, M365Settings)
    forged = replace(
        connection,
        settings=replace(connection.settings, credential=CertificateCredential(thumbprint="$(touch x)\nok FAKE")),
    )
    with pytest.raises(DraftInvalid):
        revalidate(forged, stamp(2))


def test_a_bare_powershell_value_starting_with_a_dash_is_quoted() -> None:
    from workbench import quoting

    assert quoting.fill_powershell("Get-ADUser {alias} -Properties X", {"alias": "-Filter"}) == (
        "Get-ADUser '-Filter' -Properties X"
    )


def test_odd_import_files_get_a_message(tmp_path: Path) -> None:
    home = tmp_path / "home"
    huge = tmp_path / "huge.json"
    huge.write_text('{"format": "exchange-workbench/connections", "version": ' + "9" * 5000 + "}")
    for path in (huge, Path("/dev/zero"), tmp_path):
        result = run_workbench(home, "connections", "import", str(path))
        assert result.returncode == 2, (path, result.stderr)
        _no_traceback(result)
    exported = tmp_path / "bom.json"
    exported.write_bytes(b'\xef\xbb\xbf{"format": "exchange-workbench/connections", "version": 1, "connections": []}')
    assert run_workbench(home, "connections", "import", str(exported)).returncode == 0


def test_a_ca_bundle_name_that_is_not_utf8_is_bad_input(tmp_path: Path) -> None:
    result = add_onprem(tmp_path / "home", "--ca-bundle", "/tmp/\udcff.pem")
    assert result.returncode == 2 and "UTF-8" in result.stderr
    _no_traceback(result)
