"""What the admin sees, screen by screen, at 80x24 and 120x40 (scenes in `scenes.py`; review
`snapshot_report.html` before `--snapshot-update`)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from tests.ui import scenes

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_empty(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(scenes.app(scenes.fresh_home()), terminal_size=size, run_before=scenes.settle)


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_mixed(snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(scenes.app(scenes.mixed_home()), terminal_size=size, run_before=scenes.settle)


@pytest.mark.parametrize("size", SIZES)
def test_manager_with_a_pending_delete(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("m", "down", "delete")
        await scenes.settle(pilot)

    assert snap_compare(scenes.app(scenes.mixed_home()), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_pending_diff(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        import dataclasses

        app: Any = pilot.app
        await pilot.press("m", "down", "delete")
        space = app.workspace
        edited = space.connection("id-Contoso (certificate)")
        settings = dataclasses.replace(edited.settings, app_account="archive@contoso.com")
        space.changes.edit(dataclasses.replace(edited, settings=settings, name="Contoso (archive account)"))
        app.changed()
        await pilot.press("p")
        await scenes.settle(pilot)

    assert snap_compare(scenes.app(scenes.mixed_home()), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_verification_mid_stream(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("down", "down", "enter")  # Fabrikam (autodiscover)
        await scenes.settle(pilot)

    app = scenes.app(scenes.mixed_home(), scripts={"Fabrikam (autodiscover)": scenes.enumerating_script}, hold=True)
    assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_verification_failure_panel(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("down", "enter")  # Contoso (mistyped secret)
        await scenes.settle(pilot)
        await pilot.press("enter")  # the cursor is on the first failure
        await scenes.settle(pilot)

    assert snap_compare(scenes.app(scenes.mixed_home()), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_allow_autodiscover_redirect_confirmation(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        from textual.widgets import DataTable

        await pilot.press("down", "down", "enter")  # Fabrikam (autodiscover)
        await scenes.settle(pilot)
        # Row 1 is the failed locate check. Set explicitly: a run that ends before the screen's first repaint
        # leaves the cursor on row 0 (see the report), which made this picture depend on timing.
        pilot.app.screen.query_one("#checks", DataTable).move_cursor(row=1, animate=False)
        await scenes.settle(pilot)
        await pilot.press("enter")
        await scenes.settle(pilot)
        await pilot.press("a")
        await scenes.settle(pilot)

    scripts = {"Fabrikam (autodiscover)": scenes.redirect_refused_script}
    assert snap_compare(scenes.app(scenes.mixed_home(), scripts=scripts), terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
def test_fleet(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("v")
        await scenes.settle(pilot)

    scripts = {
        "Contoso (certificate)": lambda c: scenes.mistyped_secret_script(c)[:12],  # still running
        "Fabrikam (autodiscover)": scenes.enumerating_script,
    }
    assert snap_compare(
        scenes.app(scenes.mixed_home(), scripts=scripts, hold=True), terminal_size=size, run_before=before
    )


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare: Any, size: tuple[int, int]) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("m")
        await scenes.settle(pilot)
        await pilot.press("question_mark")
        await scenes.settle(pilot)

    assert snap_compare(scenes.app(scenes.mixed_home()), terminal_size=size, run_before=before)


def screen_text(pilot: Pilot[Any]) -> str:
    return "\n".join(strip.text for strip in pilot.app.screen._compositor.render_strips())


def test_trust_dialog_with_a_hostile_certificate(snap_compare: Any) -> None:
    """Issue 19, items 3 and 14: at 80x24 a certificate's fields cannot print lines of their own, and the
    fingerprint and the real issuer stay in view, above the buttons."""

    async def before(pilot: Pilot[Any]) -> None:
        from textual.widgets import DataTable

        await pilot.press(*["down"] * 3, "enter")  # Lab on-prem by IP
        await scenes.settle(pilot)
        pilot.app.screen.query_one("#checks", DataTable).move_cursor(row=2, animate=False)  # the TLS check
        await scenes.settle(pilot)
        await pilot.press("enter", "a")
        await scenes.settle(pilot)
        text = screen_text(pilot)
        assert "3F9AC0DE" + "C0DE" * 14 in text.replace(":", "") and "Self-signed: yes" in text
        assert "Trust (y)" in text and "Do not trust (n)" in text

    scripts = {"Lab on-prem by IP": scenes.hostile_certificate_script}
    assert snap_compare(scenes.app(scenes.mixed_home(), scripts=scripts), terminal_size=(80, 24), run_before=before)


def test_the_trust_dialog_of_a_certificate_with_many_names_is_answered_at_80x24() -> None:
    """The hostile review: a certificate with a dozen names pushed the buttons off an 80x24 screen, and the
    dialog (rightly) refused to answer; the details scroll instead, and the fingerprint and issuer come first."""
    import asyncio

    from textual.widgets import DataTable

    async def run() -> None:
        scripts = {"Lab on-prem by IP": scenes.hostile_certificate_script}
        app = scenes.app(scenes.mixed_home(), scripts=scripts)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press(*["down"] * 3, "enter")
            await scenes.settle(pilot)
            app.screen.query_one("#checks", DataTable).move_cursor(row=2, animate=False)
            await scenes.settle(pilot)
            await pilot.press("enter", "a")
            await scenes.settle(pilot)
            shown = screen_text(pilot)
            assert "SHA-256" in shown and "Issuer:" in shown and "Trust (y)" in shown
            await pilot.press("y")
            await scenes.settle(pilot)
            assert not any("too small" in str(n.message) for n in app._notifications)
            assert app.workspace.pending("id-Lab on-prem by IP") is not None  # pinned, pending

    asyncio.run(run())


def test_the_selected_fix_is_shown_whole_at_80x24() -> None:
    """Issue 19, item 14: the portal path for a wrong secret ended at "All applications >" in a box of two lines."""
    import asyncio

    from textual.widgets import TextArea

    async def run() -> None:
        app = scenes.app(scenes.mixed_home())
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("down", "enter")
            await scenes.settle(pilot)
            await pilot.press("enter")
            await scenes.settle(pilot)
            box = app.screen.query_one("#fix-command", TextArea)
            assert "New client secret" in box.text
            assert box.wrapped_document.height <= box.content_region.height
            assert app.screen.region.contains_region(box.region)

    asyncio.run(run())


def test_every_other_dialog_fits_at_80x24() -> None:
    """Issue 19, item 14: the dialogs no snapshot shows, opened at 80x24 with their longest real texts, cut
    nothing without an ellipsis (the snapshots check the rest with the same rule)."""
    import asyncio

    from textual.screen import ModalScreen

    from screens.dialogs.common import ConfirmModal, MessageModal, PathModal, SecretModal
    from screens.fixes import Countdown
    from screens.pages.manager import SavingModal
    from screens.wizard.certificate import ChooseCertificateModal
    from tests.conftest import FROZEN_NOW
    from tests.ui.fit import cut_words
    from workbench import validate

    certificates = [
        scenes.certificate("CN=Contoso backup app, O=Contoso Ltd, C=GB", "7CCC" + "1" * 36, 12),
        scenes.certificate("CN=Northwind archive", "9D0E" + "2" * 36, 400),
    ]
    dialogs: dict[str, ModalScreen[Any]] = {
        "quit": ConfirmModal(
            "Quit",
            "A connection is being entered in the wizard and is not saved. Quit and discard it, and 3 pending changes?",
            yes="Quit and discard",
            no="Stay",
        ),
        "secret": SecretModal(
            "Set the client secret",
            "The new client secret for 'Contoso (mistyped secret)'. It is saved to the vault only on OK in Manage "
            "server connections.",
            placeholder="paste the Value, not the Secret ID",
        ),
        "path": PathModal(
            "Trust a CA bundle",
            "A PEM file with the CA certificate(s) that issued the certificate of 'Fabrikam (autodiscover)'. Only "
            "this connection trusts it; the system's trust store is not changed.",
            validate.ca_bundle,
        ),
        "message": MessageModal("Nothing was saved", "Another workbench is saving to /home/admin/.local/share/x."),
        "saving": SavingModal(3),
        "countdown": Countdown(30, "Mailbox access through Graph"),
        "choose": ChooseCertificateModal(certificates, FROZEN_NOW),
    }

    async def run() -> None:
        for name, dialog in dialogs.items():
            app = scenes.app(scenes.mixed_home())
            async with app.run_test(size=(80, 24)) as pilot:
                app.push_screen(dialog)
                await scenes.settle(pilot)
                assert app.screen is dialog, name
                assert not cut_words(app), (name, cut_words(app))

    asyncio.run(run())


def test_help_shows_every_key_s_description_whole_at_80x24() -> None:
    """The hostile review: the verification screen's help cut "(ctrl+s there saves what a fix made pendi" at
    the dialog's edge (a table wider than the dialog scrolled sideways)."""
    import asyncio

    from screens.dialogs.common import HelpModal
    from tests.ui.fit import cut_words

    async def run() -> None:
        app = scenes.app(scenes.mixed_home())
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("down", "enter")  # a verification screen: the longest descriptions
            await scenes.settle(pilot)
            await pilot.press("question_mark")
            await scenes.settle(pilot)
            assert isinstance(app.screen, HelpModal)
            sideways = [w for w in app.screen.query("*") if w.max_scroll_x > 0]
            assert not sideways, sideways
            assert not cut_words(app)

    asyncio.run(run())
