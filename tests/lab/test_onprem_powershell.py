"""The lab's Exchange remote PowerShell through the unmodified pypsrp client (WSMan + PSRP over HTTPS)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from pypsrp.complex_objects import PSInvocationState
from pypsrp.exceptions import AuthenticationError, WSManFaultError
from pypsrp.powershell import PowerShell

from tests.lab.conftest import kerberos_profile, powershell, run_cmdlet
from workbench.lab import Lab


@pytest.fixture(scope="module")
def big_lab() -> Iterator[Lab]:
    with Lab(mailboxes=10_000, seed=11) as lab:
        yield lab


@pytest.mark.slow
def test_get_mailbox_streams_ten_thousand_objects(big_lab: Lab) -> None:
    with powershell(big_lab.state) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Mailbox").add_parameter("ResultSize", "Unlimited")
        ps.begin_invoke()
        polls, received = 0, []
        while ps.state == PSInvocationState.RUNNING:
            ps.poll_invoke()
            polls += 1
            received.extend(ps.output)
            ps.output[:] = []
        received.extend(ps.output)
    assert len(received) == 10_000 + 4  # users + administrator, exadmin, helpdesk, shared mailbox
    assert polls > 10  # streamed across many Receive answers, not built into one
    first = received[0]
    assert first.types[0] == "Deserialized.Microsoft.Exchange.Data.Directory.Management.Mailbox"
    props = first.adapted_properties
    assert props["PrimarySmtpAddress"] == "administrator@fabrikam.test"
    assert props["RecipientTypeDetails"] == "UserMailbox" and props["Database"]
    assert props["EmailAddresses"] == ["SMTP:administrator@fabrikam.test", "smtp:administrator@fabrikam-mail.test"]
    assert not ps.had_errors and ps.streams.error == []


def test_default_result_size_is_1000_with_exchanges_warning(big_lab: Lab) -> None:
    with powershell(big_lab.state) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Mailbox")
        output = ps.invoke()
    assert len(output) == 1000
    assert str(ps.streams.warning[0].message).startswith("By default, only the first 1000 items are returned.")


def test_public_folder_mailboxes(make_lab: Callable[..., Lab]) -> None:
    with powershell(make_lab().state) as pool:
        ps = run_cmdlet(pool, "Get-Mailbox", PublicFolder=True)
    names = sorted(o.adapted_properties["Alias"] for o in ps.output)
    assert names == ["pfmailbox1", "pfmailbox2"]
    assert {o.adapted_properties["RecipientTypeDetails"] for o in ps.output} == {"PublicFolderMailbox"}


def test_role_check_grant_and_recheck(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("no-impersonation").state
    admin = state.onprem.admin_upn
    with powershell(state) as pool:
        everything = run_cmdlet(
            pool, "Get-ManagementRoleAssignment", Role="ApplicationImpersonation", RoleAssignee=admin
        )
        direct = run_cmdlet(
            pool, "Get-ManagementRoleAssignment", Role="ApplicationImpersonation", RoleAssignee=admin, Delegating=False
        )
        # Without -Delegating $false the Organization Management delegating assignment looks like a grant.
        assert [o.adapted_properties["RoleAssignmentDelegationType"] for o in everything.output] == [
            "DelegatingOrgWide"
        ]
        assert direct.output == []
        grant = run_cmdlet(
            pool,
            "New-ManagementRoleAssignment",
            Name="Workbench-Impersonation-administrator",
            Role="ApplicationImpersonation",
            User=admin,
        )
        assert [o.adapted_properties["Name"] for o in grant.output] == ["Workbench-Impersonation-administrator"]
        again = run_cmdlet(
            pool, "Get-ManagementRoleAssignment", Role="ApplicationImpersonation", RoleAssignee=admin, Delegating=False
        )
        assert [o.adapted_properties["RoleAssigneeName"] for o in again.output] == ["administrator"]
        duplicate = run_cmdlet(
            pool,
            "New-ManagementRoleAssignment",
            Name="Workbench-Impersonation-administrator",
            Role="ApplicationImpersonation",
            User=admin,
        )
        assert "already exists" in str(duplicate.streams.error[0])


def test_grant_denied(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("grant-denied").state
    with powershell(state) as pool:
        ps = run_cmdlet(
            pool, "New-ManagementRoleAssignment", Name="x", Role="ApplicationImpersonation", User=state.onprem.admin_upn
        )
    assert ps.output == [] and not ps.had_errors  # a non-terminating error, as Exchange writes it
    (error,) = ps.streams.error
    assert "doesn't have a delegating role assignment" in str(error)
    assert "FailureCategory=Cmdlet-TaskException" in error.fq_error


def test_scripts_are_refused_as_exchange_does(make_lab: Callable[..., Lab]) -> None:
    with powershell(make_lab().state) as pool:
        ps = PowerShell(pool)
        ps.add_script("Get-Mailbox | Remove-Mailbox -Confirm:$false")
        ps.invoke()
    assert ps.had_errors
    assert "no-language mode" in str(ps.streams.error[0])


def test_unknown_identity_and_cmdlet(make_lab: Callable[..., Lab]) -> None:
    with powershell(make_lab().state) as pool:
        ghost = run_cmdlet(pool, "Get-Mailbox", Identity="ghost@fabrikam.test")
        unknown = run_cmdlet(pool, "Remove-Mailbox", Identity="user00001")
    assert not ghost.had_errors and "couldn't be found" in str(ghost.streams.error[0])
    assert "ManagementObjectNotFoundException" in ghost.streams.error[0].fq_error
    assert unknown.had_errors and "is not recognized as the name of a cmdlet" in str(unknown.streams.error[0])


def test_the_other_cmdlets(make_lab: Callable[..., Lab]) -> None:
    with powershell(make_lab().state) as pool:
        members = run_cmdlet(pool, "Get-RoleGroupMember", Identity="Organization Management").output
        domains = run_cmdlet(pool, "Get-AcceptedDomain").output
        vdir = run_cmdlet(pool, "Get-PowerShellVirtualDirectory").output[0].adapted_properties
        server = run_cmdlet(pool, "Get-ExchangeServer").output[0].adapted_properties
        user = run_cmdlet(pool, "Get-User", Identity="helpdesk").output[0].adapted_properties
    assert [m.adapted_properties["PrimarySmtpAddress"] for m in members] == [
        "administrator@fabrikam.test",
        "exadmin@fabrikam.test",
    ]
    assert [d.adapted_properties["DomainName"] for d in domains] == ["fabrikam.test", "fabrikam-mail.test"]
    assert (vdir["BasicAuthentication"], vdir["WindowsAuthentication"]) == (False, False)  # Exchange's default
    assert server["AdminDisplayVersion"] == "Version 15.2 (Build 1748.10)" and server["Fqdn"] == "exch01.fabrikam.test"
    assert user["UserPrincipalName"] == "helpdesk@fabrikam.test"


def test_bad_password(make_lab: Callable[..., Lab]) -> None:
    state = make_lab("bad-password,ps-basic-enabled,ps-windows-auth").state
    for auth in ("basic", "ntlm"):
        with pytest.raises(AuthenticationError):
            powershell(state, auth).open()
    kerberos_profile(state)
    krb5 = pytest.importorskip("krb5")
    with pytest.raises(krb5.Krb5Error, match="Preauthentication failed"):  # the KDC refuses: no ticket at all
        powershell(state, "kerberos").open()


def test_the_default_directory_takes_kerberos_only(make_lab: Callable[..., Lab]) -> None:
    """Exchange's default: every IIS method off on /PowerShell, Kerberos through Exchange's own module."""
    state = make_lab().state
    for auth in ("basic", "ntlm"):
        with pytest.raises(AuthenticationError):
            powershell(state, auth).open()
    with powershell(state) as pool:
        vdir = run_cmdlet(pool, "Get-PowerShellVirtualDirectory").output[0].adapted_properties
    assert (vdir["BasicAuthentication"], vdir["WindowsAuthentication"]) == (False, False)


@pytest.mark.parametrize(("scenario", "auth"), [("ps-basic-enabled", "basic"), ("ps-windows-auth", "ntlm")])
def test_what_an_admin_enabled_is_accepted(make_lab: Callable[..., Lab], scenario: str, auth: str) -> None:
    state = make_lab(scenario).state
    with powershell(state, auth) as pool:
        vdir = run_cmdlet(pool, "Get-PowerShellVirtualDirectory").output[0].adapted_properties
    assert (vdir["BasicAuthentication"], vdir["WindowsAuthentication"]) == (auth == "basic", auth == "ntlm")


def test_wrong_configuration_name(make_lab: Callable[..., Lab]) -> None:
    with pytest.raises(WSManFaultError) as caught:
        powershell(make_lab().state, configuration_name="Microsoft.PowerShell").open()
    assert caught.value.code == 2150858811 and "not found in the WS-Management catalog" in str(caught.value)


def test_cancel_a_running_enumeration(big_lab: Lab) -> None:
    with powershell(big_lab.state) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Mailbox").add_parameter("ResultSize", "Unlimited")
        ps.begin_invoke()
        ps.poll_invoke()
        ps.stop()
        assert ps.state == PSInvocationState.STOPPED
        assert 0 < len(ps.output) < 10_000
        assert run_cmdlet(pool, "Get-ExchangeServer").output  # the runspace pool is still usable


def test_powershell_latency_scenario(make_lab: Callable[..., Lab]) -> None:
    import time

    state = make_lab("ps-slow").state
    started = time.monotonic()
    with powershell(state) as pool:
        run_cmdlet(pool, "Get-ExchangeServer")
    assert time.monotonic() - started >= 1.0  # create + receive + command + receive + delete, 250 ms each


def test_mailbox_template_matches_psrpcores_serialiser() -> None:
    """The fast path must emit exactly what psrpcore would have written for the same object."""
    import random
    from xml.etree import ElementTree

    from psrpcore.types import PSCryptoProvider, serialize

    from workbench.lab import cmdlets
    from workbench.lab.org import seed_organization

    org, _ = seed_organization(rng=random.Random(3), mailboxes=3, scenarios=frozenset())
    for recipient in org.recipients.values():
        fast = cmdlets.mailbox_output(org, recipient)
        assert isinstance(fast, cmdlets.RawOutput)
        values = cmdlets._mailbox_values(org, recipient)
        slow = ElementTree.tostring(serialize(cmdlets._mailbox_from(values.__getitem__), PSCryptoProvider()))
        assert fast.clixml == slow
    odd = next(iter(org.recipients.values()))
    odd.display_name = "Zoë <ops> & co_x20"
    assert isinstance(cmdlets.mailbox_output(org, odd), cmdlets.Output)  # falls back to the general serialiser
