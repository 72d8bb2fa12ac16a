"""What the console says matches what it does: the buttons a dialog names exist, what was copied is named for
what it is, and nothing on screen is an internal id (issue 19, items 15 to 17)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from textual.widgets import Button, Input, Static

from screens import WorkbenchApp
from screens.dialogs.common import ConfirmModal
from screens.dialogs.troubleshoot import TroubleshootModal
from screens.pages.verification import VerificationScreen
from storage import Home
from tests.conftest import FROZEN_NOW
from tests.ui.conftest import lab_certificate, lab_m365, lab_onprem, until
from workbench.checks.events import Status
from workbench.lab import Lab


def app_for(home: Home, **kwargs: Any) -> WorkbenchApp:
    return WorkbenchApp(home, now=lambda: FROZEN_NOW, tz=UTC, timeout=10.0, **kwargs)


def words_of(app: WorkbenchApp) -> str:
    """Everything the dialog in front says, as plain text."""
    return " ".join(str(widget.render()) for widget in app.screen.query(Static))


def buttons_of(app: WorkbenchApp) -> list[str]:
    return [str(button.label) for button in app.screen.query(Button)]


async def test_the_quit_question_names_the_button_it_offers(home: Home, healthy_lab: Lab) -> None:
    lab_m365(home, healthy_lab, "Contoso")
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m", "delete", "ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        question = words_of(app)
        assert "Stay (n)" in buttons_of(app)
        assert "To keep it: Stay, then ctrl+s" in question and "No," not in question


async def test_cancelling_the_manager_asks_in_plain_english(home: Home, healthy_lab: Lab) -> None:
    lab_m365(home, healthy_lab, "Contoso")
    lab_m365(home, healthy_lab, "Contoso (second)")
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m", "delete")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        assert "Discard 1 pending change? It has not been saved." in words_of(app)
        await pilot.press("n", "down", "delete", "escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        assert "Discard 2 pending changes? None of them has been saved." in words_of(app)


def notices(app: WorkbenchApp) -> list[str]:
    return [notification.message for notification in app._notifications]


def front(app: WorkbenchApp) -> Any:
    return app.screen


def verification_done(app: WorkbenchApp) -> bool:
    screen: Any = app.screen
    return isinstance(screen, VerificationScreen) and not screen.live.running and screen.view.settled


async def test_a_copy_says_what_was_copied(home: Home, healthy_lab: Lab) -> None:
    lab_m365(home, healthy_lab, "Mistyped", secret="not-the-secret")
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await until(pilot, lambda: verification_done(app))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TroubleshootModal))
        panel: Any = app.screen
        kinds = [fix.kind.value for fix in panel.problem.fixes]
        assert kinds[:2] == ["portal", "workbench"]
        await pilot.press("c")
        await pilot.pause()
        assert notices(app)[-1].startswith("Portal path copied")
        await pilot.press("down", "c")
        await pilot.pause()
        assert notices(app)[-1].startswith("Workbench command copied")


async def test_a_certificate_two_connections_share_says_so_in_words(home: Home, healthy_lab: Lab) -> None:
    from workbench.drafts import M365Draft, Stamp
    from workbench.model import CertificateCredential

    lab_certificate(home, healthy_lab)
    m = healthy_lab.state.m365
    changes = home.changeset()
    for name in ("Contoso archive", "Contoso backup", "Contoso journal"):
        changes.add(
            M365Draft(tenant_id=m.tenant_id, client_id=m.client_id, app_account=m.app_account, name=name).build(
                CertificateCredential(thumbprint=m.certificate_thumbprint), Stamp(f"id-{name}", FROZEN_NOW)
            )
        )
    changes.commit()
    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        card = str(app.screen.query_one("#expiring", Static).render())
        assert "Contoso archive" in card and "and 2 more connections" in card and "+2" not in card


async def test_autodiscover_attempts_before_the_one_that_worked_are_shown_as_tried(
    home: Home, healthy_lab: Lab
) -> None:
    from textual.widgets import DataTable

    from workbench.checks.events import Status, StepStatus

    lab_onprem(home, healthy_lab, "Fabrikam", autodiscover=True)
    app = app_for(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await until(pilot, lambda: verification_done(app))
        screen: Any = app.screen
        row = screen.live.board["onprem.locate"]
        assert row.status is Status.PASSED
        misses = [index for index, step in row.steps.items() if step.status is StepStatus.FAILED]
        assert misses, "the lab's autodiscover finds nothing at the first places it looks"
        table = screen.query_one("#checks", DataTable)
        for index in misses:
            cells = table.get_row(f"onprem.locate#{index}")
            assert cells[1].plain == "○ tried" and "red" not in str(cells[1].style)


async def test_browse_offers_only_the_accepted_domains_as_upn_suffixes() -> None:
    """The UPN-suffix list offered a blank entry (its prompt) beside the accepted domains."""
    from textual.app import App
    from textual.widgets import Select
    from textual.widgets._select import SelectOverlay

    from screens.wizard.browse import BrowseModal
    from workbench.browse import Directory
    from workbench.checks.onprem import Admin

    directory = Directory(
        admins=(Admin("Administrator", "Administrator", "administrator@fabrikam.test", True),),
        accepted_domains=("fabrikam.test", "contoso.test"),
    )

    async def loader() -> Directory:
        return directory

    app: App[None] = App()
    async with app.run_test(size=(100, 30)) as pilot:
        modal = BrowseModal(loader, "administrator@fabrikam.test", "contoso.test")
        app.push_screen(modal)
        await until(pilot, lambda: modal.directory is not None)
        select = modal.query_one("#domain", Select)
        assert select.value == "contoso.test"
        overlay = select.query_one(SelectOverlay)
        offered = [str(overlay.get_option_at_index(i).prompt) for i in range(overlay.option_count)]
        assert offered == ["fabrikam.test", "contoso.test"]


def demo_app(home: Home, lab: Lab) -> WorkbenchApp:
    from screens.wizard import LabValues

    return app_for(home, lab=True, lab_values=LabValues.of(lab.state))


async def test_the_readme_demo_path_sets_the_lab_secret_with_ctrl_l_and_m_then_ctrl_s_saves(
    home: Home, healthy_lab: Lab
) -> None:
    """README: "`a` lets the workbench fix it (set the secret…) and verify again; `m` then `ctrl+s` saves"."""
    from screens.dialogs.common import SecretModal

    lab_m365(home, healthy_lab, "Mistyped", secret="not-the-secret")
    vault_before = (home.path / "vault.json").read_bytes()
    app = demo_app(home, healthy_lab)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await until(pilot, lambda: verification_done(app))
        await pilot.press("enter", "a")
        await until(pilot, lambda: isinstance(app.screen, SecretModal))
        assert "ctrl+l" in words_of(app)  # the demo says how to get the lab's secret
        await pilot.press("ctrl+l", "enter")
        await until(pilot, lambda: verification_done(app) and front(app).live.board.overall() is Status.PASSED)
        await pilot.press("m", "ctrl+s")  # from the verification screen, as the README says
        await until(pilot, lambda: not app.workspace.dirty)
    assert (home.path / "vault.json").read_bytes() != vault_before


async def test_escape_from_an_action_dialog_returns_to_the_panel_it_came_from(home: Home, healthy_lab: Lab) -> None:
    from textual.widgets import OptionList

    from screens.dialogs.common import SecretModal

    lab_m365(home, healthy_lab, "Mistyped", secret="not-the-secret")
    app = demo_app(home, healthy_lab)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await until(pilot, lambda: verification_done(app))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TroubleshootModal))
        panel: Any = app.screen
        check = panel.check
        await pilot.press("down", "enter")  # the second fix: "Store it for this connection" (set the secret)
        await until(pilot, lambda: isinstance(app.screen, SecretModal))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SecretModal))
        assert isinstance(app.screen, TroubleshootModal) and app.screen.check == check
        assert app.screen.query_one("#fixes", OptionList).highlighted == 1  # the fix it was on
        assert not app.workspace.dirty  # nothing was staged


async def test_a_secret_entra_refuses_is_not_staged(home: Home, healthy_lab: Lab) -> None:
    """The set-secret dialog says the secret is verified first: one the token endpoint refuses is not kept."""
    from textual.widgets import Label

    from screens.dialogs.common import SecretModal

    lab_m365(home, healthy_lab, "Mistyped", secret="not-the-secret")
    app = demo_app(home, healthy_lab)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await until(pilot, lambda: verification_done(app))
        await pilot.press("enter", "a")
        await until(pilot, lambda: isinstance(app.screen, SecretModal))
        dialog = app.screen
        await pilot.press(*"still-not-the-secret", "enter")
        error = dialog.query_one("#secret-error", Label)
        await until(pilot, lambda: "AADSTS7000215" in str(error.render()))
        assert app.screen is dialog and not app.workspace.dirty  # refused: nothing staged, the dialog stays
        assert "Not kept" in str(error.render())
        dialog.query_one("#secret", Input).value = ""
        await pilot.press("ctrl+l", "enter")
        await until(pilot, lambda: verification_done(app) and front(app).live.board.overall() is Status.PASSED)
        assert app.workspace.dirty  # accepted: staged, pending until OK


async def test_a_fix_copied_in_the_wizard_says_it_works_once_the_connection_is_saved(
    home: Home, healthy_lab: Lab
) -> None:
    """Before Finish and OK there is no connection of that name: a `workbench` line copied then says so."""
    from textual.widgets import DataTable, TextArea

    from tests.ui.test_wizard import manual, paste, verified

    app = demo_app(home, healthy_lab)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign,assignment]
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("n", "ctrl+l", "alt+n")
        await manual(pilot)
        await pilot.press("ctrl+l")
        await paste(pilot, "#client_secret", "not-the-secret")
        await pilot.press("alt+n")
        screen = await verified(pilot)
        assert screen.live.board["m365.token.graph"].status is Status.FAILED
        screen.query_one("#checks").focus()
        screen.view.query_one("#checks", DataTable).move_cursor(row=2)  # the token check
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TroubleshootModal))
        await pilot.press("down", "c")  # "Store it for this connection": a workbench command
        await pilot.pause()
        name = screen.shown_name()
        assert copied and f"workbench connections set-secret -- {name}" in copied[-1]
        first = copied[-1].splitlines()[0]
        assert first.startswith("# ") and "saved" in first  # a comment: pasted, it runs nothing
        assert app.screen.query_one("#fix-command", TextArea).text == copied[-1]  # what is shown is what is copied


async def test_a_save_refused_while_another_workbench_holds_the_store_says_what_to_do_once(
    home: Home, healthy_lab: Lab, monkeypatch: Any
) -> None:
    # The storage layer's message said "Try again" and the console added "Try OK again in a moment" after it.
    from storage import files

    lab_m365(home, healthy_lab, "Contoso")
    monkeypatch.setattr(files, "LOCK_WAIT", 0.2)
    app = app_for(home)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("m", "delete")
        with files.exclusive_lock(home.store.path):  # another workbench, stopped mid-save
            await pilot.press("ctrl+s")
            await until(pilot, lambda: "Nothing was saved" in words_of(app))
        said = words_of(app)
        assert "Another workbench is saving" in said and "stopped workbench process" in said
        assert said.lower().count("again") == 1, said
        assert "OK again" in said
    assert [c.name for c in home.store.snapshot().connections] == ["Contoso"]


async def test_a_long_name_s_verification_header_ends_in_an_ellipsis_at_80x24() -> None:
    # Found by the hostile review: the header's Text asked for an ellipsis, which a Static does not honour, so a
    # long name's header lost its last counts and its time mid-word ("8" of "8 skipped").
    from tests.ui import scenes
    from tests.ui.fit import cut_words

    home = scenes.fresh_home()
    changes = home.changeset()
    changes.add(scenes.m365("Contoso production tenant (Exchange Online)"))
    changes.commit()
    app = scenes.app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await scenes.settle(pilot)
        assert isinstance(app.screen, VerificationScreen)
        head = app.screen.query_one("#verification-head", Static)
        assert not [cut for cut in cut_words(app) if "verification-head" in cut or "masthead" in cut]
        assert head.render_line(0).text.rstrip().endswith("…")
