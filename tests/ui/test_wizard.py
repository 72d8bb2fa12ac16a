"""The connection wizard walked as an admin walks it, every path against the lab: Microsoft 365 with a secret and
with a certificate imported through the dialog, on-premises by autodiscover, by FQDN and by IP; Browse; edit in
place; Cancel; the store file after OK and after Cancel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.binding import Binding
from textual.pilot import Pilot
from textual.widgets import Button, Input, OptionList, RadioButton, RadioSet, Static

from screens import WorkbenchApp
from screens.dialogs.common import ConfirmModal
from screens.dialogs.troubleshoot import TroubleshootModal
from screens.pages.manager import ManagerScreen
from screens.wizard import LabValues, WizardScreen
from screens.wizard.browse import BrowseModal
from screens.wizard.certificate import ImportCertificateModal
from storage import Home
from tests.factories import PFX_PASSWORD
from tests.ui.conftest import lab_m365, until, wizard_watched
from workbench.checks.events import Status
from workbench.lab import Lab
from workbench.model import ClientSecretCredential, M365Settings, OnPremSettings, TrustMode


def app_for(home: Home, lab: Lab | None = None, **kwargs: Any) -> WorkbenchApp:
    return WorkbenchApp(
        home,
        now=lambda: datetime.now(UTC),  # the lab's certificates are issued now
        tz=UTC,
        timeout=10.0,
        lab_values=LabValues.of(lab.state) if lab is not None else None,
        local_user="tester",
        **kwargs,
    )


def front(app: WorkbenchApp) -> object:
    return app.screen


def wizard(app: WorkbenchApp) -> WizardScreen:
    screen = app.screen
    assert isinstance(screen, WizardScreen), type(screen).__name__
    return screen


async def paste(pilot: Pilot[Any], selector: str, text: str) -> None:
    """Put text in a field as a paste would (one change), then let the wizard check it."""
    box = pilot.app.screen.query_one(selector, Input)
    box.focus()
    box.value = text
    await pilot.pause()


async def push(pilot: Pilot[Any], selector: str) -> None:
    """Press a button as the keyboard does (focus, enter): it may be scrolled out of view at 80x24."""
    button = pilot.app.screen.query_one(selector, Button)
    button.focus()
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()


async def choose(pilot: Pilot[Any], radios: str, index: int) -> None:
    buttons = list(pilot.app.screen.query_one(radios, RadioSet).query(RadioButton))
    buttons[index].value = True
    await pilot.pause()


def message(app: WorkbenchApp, field: str) -> str:
    return str(app.screen.query_one(f"#field-{field} .field-message", Static).render())


def next_enabled(app: WorkbenchApp) -> bool:
    return not app.screen.query_one("#next", Button).disabled


async def manual(pilot: Pilot[Any]) -> None:
    """On Application registration: choose manual registration and go on to Application details."""
    assert wizard(pilot.app).step.value == "registration"  # type: ignore[arg-type]
    await choose(pilot, "#registration", 1)
    await pilot.press("alt+n")
    await pilot.pause()


async def verified(pilot: Pilot[Any]) -> WizardScreen:
    """Wait for the Configuration step's verification to end and the wizard to have looked at its end (whether
    Finish is possible)."""
    screen = wizard(pilot.app)  # type: ignore[arg-type]
    await until(
        pilot,
        lambda: (
            screen._live is not None and not screen._live.running and screen.view.settled and wizard_watched(screen)
        ),
        60,
    )
    return screen


async def onprem_by_name_verified(pilot: Pilot[Any], lab: Lab) -> WizardScreen:
    """A new on-premises connection by the lab server's name (the system's trust: its certificate fails), taken to
    the Configuration step and verified."""
    await pilot.press("n")
    await choose(pilot, "#kind", 1)
    await pilot.press("alt+n")
    await choose(pilot, "#discovery", 1)
    await paste(pilot, "#server", lab.state.onprem.server_fqdn)
    await paste(pilot, "#dns_servers", lab.state.onprem.dns)
    await pilot.press("alt+n", "ctrl+l", "alt+n")
    return await verified(pilot)


async def onprem_credentials_filled(pilot: Pilot[Any]) -> None:
    """A new on-premises connection up to Admin's credentials, every step filled from the lab."""
    await pilot.press("n")
    await choose(pilot, "#kind", 1)
    await pilot.press("alt+n", "ctrl+l", "alt+n", "ctrl+l")


async def finish_and_ok(pilot: Pilot[Any]) -> ManagerScreen:
    await pilot.press("alt+n")
    await pilot.pause()
    manager = pilot.app.screen
    assert isinstance(manager, ManagerScreen)
    return manager


async def test_microsoft_365_with_a_secret_is_saved_on_ok_only(home: Home, healthy_lab: Lab) -> None:
    store_file = home.store.path
    app = app_for(home, healthy_lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        assert wizard(app).step.value == "location"
        await pilot.press("ctrl+l", "alt+n")  # the lab tenant's endpoints
        await manual(pilot)
        await pilot.press("ctrl+l")  # its app and secret
        await pilot.pause()
        assert wizard(app).step.value == "application" and next_enabled(app)
        await pilot.press("alt+n")
        screen = await verified(pilot)
        assert screen.live.board.summary is not None and screen.live.board.summary.status is Status.PASSED
        # The name is the tenant's default domain, learned by the checks.
        assert app.screen.query_one("#name", Input).value == healthy_lab.state.m365.tenant_domain
        assert next_enabled(app)
        await finish_and_ok(pilot)
        assert not store_file.exists() or healthy_lab.state.m365.tenant_domain not in store_file.read_text()
        await pilot.press("ctrl+s")
        await pilot.pause()
    saved = home.store.snapshot().connections
    assert [c.name for c in saved] == [healthy_lab.state.m365.tenant_domain]
    settings = saved[0].settings
    assert isinstance(settings, M365Settings) and isinstance(settings.credential, ClientSecretCredential)
    assert settings.credential.secret_ref is not None
    secret = home.vault().get(settings.credential.secret_ref)
    assert secret is not None and secret.reveal() == healthy_lab.state.m365.client_secret
    assert saved[0].last_verification is not None and saved[0].last_verification.status.value == "passed"


async def test_microsoft_365_with_the_lab_certificate_imported_through_the_dialog(home: Home, healthy_lab: Lab) -> None:
    app = app_for(home, healthy_lab)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "ctrl+l", "alt+n")
        await manual(pilot)
        await choose(pilot, "#credential", 1)
        await pilot.press("ctrl+l")
        assert "thumbprint" in message(app, "thumbprint").lower() or not next_enabled(app)
        await push(pilot, "#import")
        await pilot.pause()
        assert isinstance(app.screen, ImportCertificateModal)
        await pilot.press("ctrl+l")
        dialog = app.screen
        await until(pilot, lambda: dialog.loaded is not None)
        shown = str(dialog.query_one("#import-result", Static).render())
        assert healthy_lab.state.m365.certificate_thumbprint in shown and "RSA 2048 bits" in shown
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.query_one("#thumbprint", Input).value == healthy_lab.state.m365.certificate_thumbprint
        assert home.certificates.list() == ()  # staged: nothing in the store before OK
        await pilot.press("alt+n")
        screen = await verified(pilot)
        assert screen.live.board.summary is not None and not screen.live.board.summary.failed
        await finish_and_ok(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
    (stored,) = home.certificates.list()
    assert stored.thumbprint == healthy_lab.state.m365.certificate_thumbprint
    assert home.certificates.private_key(stored.thumbprint).reveal().startswith("-----BEGIN PRIVATE KEY-----")


async def test_import_refuses_a_small_key_and_a_wrong_password_with_the_reason(
    home: Home, cert_files: dict[str, Path]
) -> None:
    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", "alt+n")
        await manual(pilot)
        await choose(pilot, "#credential", 1)
        await push(pilot, "#import")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ImportCertificateModal)
        await paste(pilot, "#path", str(cert_files["pfx_1024"]))
        await paste(pilot, "#pfx-password", PFX_PASSWORD)
        await pilot.press("enter")
        await until(pilot, lambda: "bits" in str(dialog.query_one("#import-result", Static).render()))
        assert "1024 bits" in str(dialog.query_one("#import-result", Static).render())
        assert dialog.query_one("#ok", Button).disabled and dialog.loaded is None
        await paste(pilot, "#path", str(cert_files["pfx"]))
        await paste(pilot, "#pfx-password", "wrong")
        await pilot.press("enter")
        await until(pilot, lambda: "password" in str(dialog.query_one("#import-result", Static).render()))
        await paste(pilot, "#path", "/dev/zero")
        await pilot.press("enter")
        await until(pilot, lambda: "regular file" in str(dialog.query_one("#import-result", Static).render()))
        await pilot.press("escape")
        await pilot.pause()
        assert wizard(app).wizard_draft.thumbprint == ""


@pytest.mark.parametrize(
    "path",
    [pytest.param("autodiscover", marks=pytest.mark.kerberos), pytest.param("fqdn", marks=pytest.mark.kerberos), "ip"],
)
async def test_on_premises_paths_end_to_end_and_cancel_in_the_manager_leaves_the_store(
    home: Home, healthy_lab: Lab, make_lab: Callable[..., Lab], path: str
) -> None:
    # By IP there is no Kerberos name: Basic, which the admin enabled on the PowerShell directory.
    lab = make_lab("ps-basic-enabled") if path == "ip" else healthy_lab
    lab_m365(home, lab, "Existing")  # the store file exists, so "unchanged" is a byte comparison
    before = home.store.path.read_bytes()
    app = app_for(home, lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await choose(pilot, "#kind", 1)
        await pilot.press("alt+n")
        await pilot.pause()
        assert wizard(app).step.value == "server"
        if path != "autodiscover":
            await choose(pilot, "#discovery", 1)
        await pilot.press("ctrl+l")
        if path == "ip":
            await pilot.press("ctrl+l")
        await pilot.pause()
        o = lab.state.onprem
        warning = app.screen.query_one("#ip-warning", Static)
        methods = app.screen.query_one("#ps-auth", RadioSet)
        if path == "ip":
            assert app.screen.query_one("#server", Input).value == o.server_ip
            assert warning.display and "Set-PowerShellVirtualDirectory" in str(warning.render())
            assert methods.pressed_index == 1  # Basic: an address has no Kerberos name
        else:
            assert not warning.display
            assert methods.pressed_index == 0  # Kerberos, Exchange's default
        if path == "fqdn":
            port = o.server_fqdn.rpartition(":")[2]
            assert app.screen.query_one("#ews_url", Input).value == f"https://{o.server_fqdn}/EWS/Exchange.asmx"
            assert port
        await pilot.press("alt+n")
        await pilot.pause()
        upn = app.screen.query_one("#admin_upn", Input).value
        if path == "fqdn":
            assert upn == "tester@fabrikam.test"  # the local user at the server's domain
        await pilot.press("ctrl+l", "alt+n")
        screen = await verified(pilot)
        summary = screen.live.board.summary
        assert summary is not None and not summary.failed, [
            (r.id, r.detail) for r in screen.live.board if r.status is Status.FAILED
        ]
        assert app.screen.query_one("#name", Input).value == o.admin_upn
        manager = await finish_and_ok(pilot)
        assert manager.workbench.workspace.dirty
        assert home.store.path.read_bytes() == before
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await pilot.pause()
    assert home.store.path.read_bytes() == before


async def test_browse_lists_organization_management_and_picks_with_the_chosen_suffix(
    home: Home, healthy_lab: Lab
) -> None:
    app = app_for(home, healthy_lab)
    async with app.run_test(size=(120, 40)) as pilot:
        await onprem_credentials_filled(pilot)
        await push(pilot, "#browse")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, BrowseModal)
        await until(pilot, lambda: picker.directory is not None, 30)
        assert picker.directory is not None
        assert "fabrikam-mail.test" in picker.directory.accepted_domains
        await pilot.pause()
        options = picker.query_one("#admins", OptionList)
        assert options.option_count >= 2
        await paste(pilot, "#browse-filter", "exadmin")
        assert options.option_count == 1
        picker._domain = "fabrikam-mail.test"  # the domain selector's choice
        picker._list()
        options.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.query_one("#admin_upn", Input).value == "exadmin@fabrikam-mail.test"


async def test_a_failed_browse_says_why_and_the_upn_can_still_be_typed(home: Home, healthy_lab: Lab) -> None:
    app = app_for(home, healthy_lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await onprem_credentials_filled(pilot)
        await paste(pilot, "#password", "not the password")
        await push(pilot, "#browse")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, BrowseModal)
        status = picker.query_one("#browse-status", Static)
        await until(pilot, lambda: "Browse failed" in str(status.render()), 30)
        assert "password" in str(status.render()).lower()
        await pilot.press("escape")
        await paste(pilot, "#admin_upn", "exadmin@fabrikam.test")
        assert message(app, "admin_upn") == ""
        assert wizard(app).wizard_draft.onprem.admin_upn == "exadmin@fabrikam.test"


async def test_edit_keeps_the_id_and_the_untouched_secret(home: Home, healthy_lab: Lab) -> None:
    original = lab_m365(home, healthy_lab, "Contoso")
    settings = original.settings
    assert isinstance(settings, M365Settings) and isinstance(settings.credential, ClientSecretCredential)
    app = app_for(home, healthy_lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m", "enter")
        await pilot.pause()
        assert wizard(app).wizard_draft.editing == original
        assert "Edit 'Contoso'" in wizard(app).trail()
        await pilot.press("alt+n", "alt+n")  # Application registration keeps manual
        secret_box = app.screen.query_one("#client_secret", Input)
        assert secret_box.value == "" and "unchanged" in secret_box.placeholder
        assert next_enabled(app)
        await pilot.press("alt+n")
        await verified(pilot)
        assert app.screen.query_one("#name", Input).value == "Contoso"
        await paste(pilot, "#name", "Contoso (edited)")
        manager = await finish_and_ok(pilot)
        (change,) = manager.workbench.workspace.pending_changes()
        assert change.kind.value == "edited" and [f.path for f in change.fields()] == ["name"]
        await pilot.press("ctrl+s")
        await pilot.pause()
    (saved,) = home.store.snapshot().connections
    assert saved.id == original.id and saved.name == "Contoso (edited)"
    assert isinstance(saved.settings, M365Settings)
    assert saved.settings.credential == settings.credential  # the same vault reference: the secret untouched


async def test_finishing_an_edit_that_changed_nothing_keeps_the_verification_it_ran(
    home: Home, healthy_lab: Lab
) -> None:
    # Found by the hostile review: Finish said "Nothing was changed" and the connection stayed "never verified",
    # though the wizard had just verified it exactly as stored.
    original = lab_m365(home, healthy_lab, "Contoso")
    assert original.last_verification is None
    app = app_for(home, healthy_lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m", "enter")
        await pilot.pause()
        await pilot.press("alt+n", "alt+n", "alt+n")
        screen = await verified(pilot)
        assert screen.live.board.summary is not None and not screen.live.board.summary.failed
        await pilot.press("alt+n")
        await until(pilot, lambda: home.store.snapshot().connections[0].last_verification is not None, 10)
        assert not app.workspace.dirty  # recorded on the stored connection: nothing pending
    (saved,) = home.store.snapshot().connections
    assert saved.last_verification is not None and saved.last_verification.status.value == "passed"
    assert saved.id == original.id and saved.settings == original.settings


async def test_each_field_says_what_is_wrong_as_it_is_typed_and_next_waits(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", "alt+n")
        await manual(pilot)
        assert not next_enabled(app)
        assert message(app, "tenant_id") == ""  # nothing typed there yet: no message
        await paste(pilot, "#tenant_id", "contoso.onmicrosoft.com")
        assert "GUID" in message(app, "tenant_id")
        await paste(pilot, "#client_id", "not a guid")
        assert "GUID" in message(app, "client_id")
        await paste(pilot, "#app_account", "CONTOSO\\backup")
        assert "user@domain" in message(app, "app_account") or "not DOMAIN" in message(app, "app_account")
        await pilot.press("alt+n")
        assert wizard(app).step.value == "application"  # Next refused, and every message of the step shows
        assert message(app, "client_secret") != ""
        await paste(pilot, "#client_secret", "6f1a2b3c-1111-2222-3333-444455556666")
        assert "Secret ID" in message(app, "client_secret") or "ID" in message(app, "client_secret")
        await pilot.press("alt+b")
        assert wizard(app).step.value == "registration"
        await pilot.press("alt+n")
        assert app.screen.query_one("#tenant_id", Input).value == "contoso.onmicrosoft.com"  # Back kept it


async def test_cancel_asks_when_something_was_entered_and_leaves_no_trace(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", "escape")  # nothing entered: leaves at once
        await pilot.pause()
        assert not isinstance(app.screen, WizardScreen)
        await pilot.press("n", "alt+n")
        await manual(pilot)
        await paste(pilot, "#client_secret", "canary-secret-value")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("n")  # keep editing
        await pilot.pause()
        assert isinstance(front(app), WizardScreen)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await pilot.pause()
        assert not isinstance(front(app), WizardScreen) and not app.workspace.dirty
    assert not home.store.path.exists() or "canary" not in home.store.path.read_text()


HOSTILE = [
    "[b]bold[/b] [@click=app.quit]x[/]",
    "evil\x1b[31mred\x1b]52;c;AAAA\x07",
    "x" * 10_240,
    "tab\there\x00nul",
    "\u202etxt.exe",
]


@pytest.mark.parametrize("value", HOSTILE, ids=["markup", "escapes", "10KB", "controls", "bidi"])
async def test_hostile_input_in_every_field_gets_a_message_and_is_shown_literally(home: Home, value: str) -> None:
    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        fields: tuple[str, ...]
        for kind, fields in ((0, ("tenant_id", "client_id", "app_account", "client_secret")), (1, ())):
            if kind == 1:
                await pilot.press("alt+b", "alt+b")
                await choose(pilot, "#kind", 1)
                await pilot.press("alt+n")
                await choose(pilot, "#discovery", 1)
                fields = ("server", "ews_url", "dns_servers")
            else:
                await pilot.press("alt+n")
                await manual(pilot)
            for field in fields:
                if field == "client_secret" and not any(ord(ch) < 32 for ch in value) and len(value) < 1024:
                    continue  # brackets or a bidi mark may be part of a real secret: only the others are refused
                await paste(pilot, f"#{field}", value)
                shown = message(app, "dns_server" if field == "dns_servers" else field)
                assert shown.startswith("✘"), (field, shown)
                assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
            assert not next_enabled(app)
        assert app.is_running  # nothing crashed


async def test_the_wizard_keys_are_described_and_the_fill_key_only_shows_in_the_demo(
    home: Home, healthy_lab: Lab
) -> None:
    plain = app_for(home)
    async with plain.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        assert not any(b.binding.action == "fill" for b in plain.screen.active_bindings.values())
    demo = app_for(home, healthy_lab)
    async with demo.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        assert any(b.binding.action == "fill" for b in demo.screen.active_bindings.values())
    for binding in WizardScreen.BINDINGS:
        assert isinstance(binding, Binding) and binding.id and binding.description


@pytest.mark.kerberos
async def test_a_fix_from_the_configuration_step_goes_into_the_draft(home: Home, healthy_lab: Lab) -> None:
    # The server certificate is not trusted (system store): the trust action pins it into the draft, not the store.
    app = app_for(home, healthy_lab)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await onprem_by_name_verified(pilot, healthy_lab)
        assert screen.live.board["onprem.tls"].status is Status.FAILED
        assert not next_enabled(app)
        await pilot.press("enter")  # the cursor is on the failed check: its troubleshooting panel
        await until(pilot, lambda: isinstance(app.screen, TroubleshootModal))
        await pilot.press("a")  # the problem's own action: trust this certificate
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await pilot.pause()
        screen = await verified(pilot)
        assert screen.live.board.summary is not None and not screen.live.board.summary.failed
        assert screen.wizard_draft.trust.value == "pinned"
        assert not app.workspace.dirty  # nothing pending until Finish
        manager = await finish_and_ok(pilot)
        (change,) = manager.workbench.workspace.pending_changes()
        assert change.after is not None and isinstance(change.after.settings, OnPremSettings)
        assert change.after.settings.tls.mode is TrustMode.PINNED


# ---------------------------------------------------------------------- found by the hostile review


async def test_back_answers_esc_b_as_terminals_send_alt_b_and_alt_left(home: Home) -> None:
    # tmux and most terminals send alt+b as ESC b, which Textual reads as ctrl+left.
    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", "alt+n")
        await manual(pilot)
        await paste(pilot, "#tenant_id", "abc def")
        await pilot.press("ctrl+left")  # ESC b, in a text field
        assert wizard(app).step.value == "registration"
        await pilot.press("alt+n")
        app.screen.query_one("#credential", RadioSet).focus()
        await pilot.press("alt+left")
        assert wizard(app).step.value == "registration"
        await pilot.press("alt+n", "alt+b")
        assert wizard(app).step.value == "registration"


async def test_picking_another_admin_in_browse_drops_the_password_typed_for_the_first(
    home: Home, healthy_lab: Lab
) -> None:
    app = app_for(home, healthy_lab)
    async with app.run_test(size=(120, 40)) as pilot:
        await onprem_credentials_filled(pilot)
        await push(pilot, "#browse")
        picker = app.screen
        assert isinstance(picker, BrowseModal)
        await until(pilot, lambda: picker.directory is not None, 30)
        await paste(pilot, "#browse-filter", "exadmin")
        picker.query_one("#admins", OptionList).focus()
        await pilot.press("enter")
        await pilot.pause()
        draft = wizard(app).wizard_draft
        assert draft.onprem.admin_upn == "exadmin@fabrikam.test" and draft.password is None
        assert app.screen.query_one("#password", Input).value == "" and app.screen.focused is not None
        assert app.screen.focused.id == "password" and "Password is required" in message(app, "password")


async def test_a_browse_refused_for_trust_says_so_and_offers_to_try_again(home: Home, healthy_lab: Lab) -> None:
    app = app_for(home, healthy_lab)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await choose(pilot, "#kind", 1)
        await pilot.press("alt+n")
        await choose(pilot, "#discovery", 1)
        await paste(pilot, "#server", healthy_lab.state.onprem.server)  # system trust: the lab's CA is not in it
        await pilot.press("alt+n", "ctrl+l")
        await push(pilot, "#browse")
        picker = app.screen
        assert isinstance(picker, BrowseModal)
        status = picker.query_one("#browse-status", Static)
        await until(pilot, lambda: "Browse failed" in str(status.render()), 30)
        said = str(status.render())
        assert "certificate is not trusted" in said and "Correct the password" not in said
        assert not picker.query_one("#retry", Button).has_class("hidden")


async def test_one_wizard_at_a_time_and_quit_asks_while_one_holds_entries(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", "alt+n")
        await manual(pilot)
        await paste(pilot, "#client_id", "half typed")
        first = app.screen
        app.action_new_connection()  # as the command palette would
        await pilot.pause()
        assert app.screen is first
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is first and app.is_running


async def test_an_edit_that_changes_nothing_leaves_nothing_pending(home: Home, healthy_lab: Lab) -> None:
    lab_m365(home, healthy_lab, "Contoso")
    app = app_for(home, healthy_lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m", "enter", "alt+n", "alt+n", "alt+n")
        await verified(pilot)
        await pilot.press("alt+n")
        await pilot.pause()
        assert isinstance(app.screen, ManagerScreen) and not app.workspace.dirty


async def test_the_fill_key_on_application_details_brings_the_lab_cloud_along(home: Home, healthy_lab: Lab) -> None:
    app = app_for(home, healthy_lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", "alt+n")
        await manual(pilot)
        await pilot.press("ctrl+l")  # Server location skipped: still the global cloud
        draft = wizard(app).wizard_draft
        assert draft.m365.cloud == "custom" and draft.m365.authority_host == healthy_lab.state.m365.authority_host
        await pilot.press("alt+n")
        screen = await verified(pilot)
        assert screen.live.board.summary is not None and not screen.live.board.summary.failed


async def test_below_seventy_columns_the_step_list_gives_way_to_the_buttons(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=(60, 16)) as pilot:
        await pilot.press("n", "alt+n")
        await pilot.pause()
        for button in ("#back", "#next", "#cancel"):
            region = app.screen.query_one(button, Button).region
            assert region.right <= 60, button


def test_path_completion_never_proposes_a_name_that_is_not_text(tmp_path: Path) -> None:
    import os

    from screens.widgets.paths import complete_path

    os.close(os.open(os.path.join(os.fsencode(tmp_path), b"bad\xff\xfename.pfx"), os.O_CREAT | os.O_WRONLY))
    (tmp_path / "backup.pfx").write_bytes(b"x")
    assert complete_path(f"{tmp_path}/b") == f"{tmp_path}/backup.pfx"


async def test_r_and_r_on_the_configuration_step_work_from_the_wizard_s_buttons_as_its_status_line_says(
    home: Home, healthy_lab: Lab
) -> None:
    # The step says "R verifies again" whatever has focus: the keys are the wizard's, not only the table's.
    app = app_for(home, healthy_lab)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await onprem_by_name_verified(pilot, healthy_lab)
        live = screen.live
        asked: list[str] = []
        rerun, rerun_all = live.rerun, live.rerun_all

        def counted_rerun(check_id: str, confirm: Any = None) -> bool:
            asked.append(check_id)
            return rerun(check_id, confirm)

        def counted_rerun_all(confirm: Any = None) -> bool:
            asked.append("all")
            return rerun_all(confirm)

        live.rerun, live.rerun_all = counted_rerun, counted_rerun_all  # type: ignore[method-assign]
        app.screen.query_one("#cancel", Button).focus()
        await pilot.press("R")
        await verified(pilot)
        assert asked == ["all"]
        app.screen.query_one("#back", Button).focus()
        await pilot.press("r")
        await verified(pilot)
        assert asked == ["all", "onprem.tls"]  # the selected check: the run's first failure
