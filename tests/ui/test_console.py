"""The console driven as an admin drives it, on real data directories and against the lab."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Input, OptionList, Static, TextArea

from screens import WorkbenchApp
from screens.dialogs.common import ConfirmModal, HelpModal, MessageModal, SecretModal
from screens.dialogs.pending import PendingModal
from screens.dialogs.troubleshoot import TroubleshootModal
from screens.pages.manager import ManagerScreen
from screens.pages.verification import VerificationScreen
from storage import Home
from tests.conftest import FROZEN_NOW
from tests.ui.conftest import lab_m365, lab_onprem, until
from workbench.checks.events import Status
from workbench.lab import Lab


def app_for(home: Home, **kwargs: Any) -> WorkbenchApp:
    return WorkbenchApp(home, now=lambda: FROZEN_NOW, tz=UTC, timeout=10.0, **kwargs)


def front(app: WorkbenchApp) -> Any:
    """The screen in front, untyped (tests look at whichever screen the keys led to)."""
    return app.screen


def text_of(app: WorkbenchApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def verification_done(app: WorkbenchApp) -> bool:
    screen = app.screen
    return (
        isinstance(screen, VerificationScreen)
        and not screen.live.running
        and bool(screen.live.board.rows)
        and screen.view.settled
    )


async def test_dashboard_counts_connections_by_kind(home: Home, healthy_lab: Lab) -> None:
    lab_m365(home, healthy_lab, "Contoso")
    lab_m365(home, healthy_lab, "Contoso two")
    lab_onprem(home, healthy_lab, "Fabrikam")
    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        counts = text_of(app, "#connections-counts")
        assert "Microsoft 365 2" in counts and "on-premises 1" in counts
        assert app.screen.query_one("#connections", DataTable).row_count == 3


async def test_delete_stays_pending_until_ok_and_cancel_leaves_the_file_alone(home: Home, healthy_lab: Lab) -> None:
    lab_m365(home, healthy_lab, "Contoso")
    lab_onprem(home, healthy_lab, "Fabrikam")
    store_file = home.store.path
    before = store_file.read_bytes()
    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, ManagerScreen)
        await pilot.press("delete")  # marks the first row (Contoso)
        await pilot.pause()
        assert store_file.read_bytes() == before
        table = app.screen.query_one("#manager", DataTable)
        assert table.get_cell_at(Coordinate(0, 0)).plain == "D"
        await pilot.press("delete")  # again: undone
        await pilot.pause()
        assert table.get_cell_at(Coordinate(0, 0)).plain == " " and not app.workspace.dirty
        await pilot.press("delete", "escape")  # Cancel asks first, the safe answer is No
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await pilot.pause()
        assert not isinstance(front(app), ManagerScreen) and not app.workspace.dirty
        assert store_file.read_bytes() == before

        await pilot.press("m", "delete")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, ManagerScreen))
    names = [c.name for c in home.store.snapshot().connections]
    assert names == ["Fabrikam"]


async def test_a_second_writer_is_shown_and_nothing_is_lost(home: Home, healthy_lab: Lab) -> None:
    lab_m365(home, healthy_lab, "Contoso")
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m", "delete")
        await pilot.pause()
        # Meanwhile another session (the CLI, a colleague) renames the same connection and saves.
        other = Home(home.path).changeset()
        import dataclasses

        renamed = dataclasses.replace(other.get("Contoso"), name="Contoso (renamed elsewhere)")
        other.edit(renamed)
        other.commit()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        shown = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert "changed by another workbench session" in shown and "name" in shown
        await pilot.press("n")  # keep my changes
        await pilot.pause()
        assert app.workspace.dirty  # the pending delete is still there
    assert [c.name for c in home.store.snapshot().connections] == ["Contoso (renamed elsewhere)"]


async def test_a_recorded_result_does_not_make_ok_fail(home: Home, healthy_lab: Lab) -> None:
    lab_m365(home, healthy_lab, "Contoso")
    lab_onprem(home, healthy_lab, "Fabrikam")
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m", "delete", "down", "v")  # delete Contoso, verify Fabrikam (recorded on the store)
        await until(pilot, lambda: verification_done(app))
        await until(pilot, lambda: home.store.snapshot().connection("Fabrikam").last_verification is not None)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, ManagerScreen))
    stored = home.store.snapshot().connections
    assert [c.name for c in stored] == ["Fabrikam"] and stored[0].last_verification is not None


async def test_a_failure_opens_its_panel_with_code_and_fixes_and_r_reruns(home: Home, healthy_lab: Lab) -> None:
    lab_m365(home, healthy_lab, "Mistyped", secret="not-the-secret")
    app = app_for(home)
    copied: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        app._driver.write = copied.append  # type: ignore[union-attr,method-assign]
        await pilot.press("enter")  # dashboard: verify the selected connection
        await until(pilot, lambda: verification_done(app))
        screen = app.screen
        assert isinstance(screen, VerificationScreen)
        assert screen.live.board["m365.token.graph"].status is Status.FAILED
        await pilot.press("enter")  # the cursor waits on the first failure
        await pilot.pause()
        panel = app.screen
        assert isinstance(panel, TroubleshootModal)
        assert panel.problem is not None and panel.problem.code == "AADSTS7000215"
        fixes = panel.query_one("#fixes", OptionList)
        assert fixes.option_count == len(panel.problem.fixes) >= 2
        command = panel.query_one("#fix-command", TextArea).text
        assert command and command == panel.problem.fixes[0].command
        await pilot.press("c")
        await pilot.pause()
        assert copied and copied[-1] == f"\x1b]52;c;{base64.b64encode(command.encode()).decode()}\a"
        runs_before = screen.live.board.run
        await pilot.press("r")  # re-run from the panel
        await until(pilot, lambda: verification_done(app) and screen.live.board.run != runs_before)
        assert screen.live.board["m365.token.graph"].status is Status.FAILED


async def test_set_secret_action_stages_and_verifies_before_saving(home: Home, healthy_lab: Lab) -> None:
    lab_m365(home, healthy_lab, "Mistyped", secret="not-the-secret")
    vault_before = (home.path / "vault.json").read_bytes()
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await until(pilot, lambda: verification_done(app))
        await pilot.press("enter", "a")
        await until(pilot, lambda: isinstance(app.screen, SecretModal))
        await pilot.press(*healthy_lab.state.m365.client_secret)
        await pilot.press("enter")
        await until(pilot, lambda: verification_done(app) and front(app).live.board.overall() is Status.PASSED)
        assert app.workspace.dirty and (home.path / "vault.json").read_bytes() == vault_before
        await pilot.press("escape", "m", "ctrl+s")
        await until(pilot, lambda: not app.workspace.dirty)
    assert (home.path / "vault.json").read_bytes() != vault_before


@pytest.mark.parametrize("answer", ["y", "n"])
@pytest.mark.kerberos
async def test_grant_action_runs_once_on_yes_and_never_on_no(home: Home, make_lab: Any, answer: str) -> None:
    lab = make_lab("no-impersonation")
    lab_onprem(home, lab, "Fabrikam")
    assert lab.org is not None
    before = len(lab.org.assignments)
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await until(pilot, lambda: verification_done(app))
        screen = app.screen
        assert isinstance(screen, VerificationScreen)
        assert screen.live.board["onprem.impersonation"].status is Status.FAILED
        assert len(lab.org.assignments) == before
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TroubleshootModal) and app.screen.check == "onprem.impersonation"
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        words = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert "New-ManagementRoleAssignment" in words and lab.state.onprem.admin_upn in words
        await pilot.press(answer)
        await pilot.pause()
        if answer == "y":
            await until(
                pilot,
                lambda: verification_done(app) and screen.live.board["onprem.impersonation"].status is Status.PASSED,
            )
            assert len(lab.org.assignments) == before + 1
        else:
            await pilot.pause(0.3)
            assert len(lab.org.assignments) == before
            assert screen.live.board["onprem.impersonation"].status is Status.FAILED


@pytest.mark.parametrize("answer", ["y", "n"])
async def test_a_foreign_autodiscover_redirect_is_followed_only_after_yes(
    home: Home, make_lab: Any, answer: str
) -> None:
    from workbench.lab.autodiscover import FOREIGN_HOST

    lab = make_lab("autodiscover-redirect-foreign")
    lab_onprem(home, lab, "Fabrikam", autodiscover=True)
    exchange = lab.server("exchange")

    def foreign() -> list[Any]:
        return [h for h in exchange.hits if h.host == FOREIGN_HOST]

    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await until(pilot, lambda: verification_done(app))
        screen = app.screen
        assert isinstance(screen, VerificationScreen)
        assert screen.live.board["onprem.locate"].status is Status.FAILED
        assert foreign() == []  # the verification's own answer was no: nothing went there
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TroubleshootModal) and app.screen.check == "onprem.locate"
        panel = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert "AUTODISCOVER_REDIRECT_NOT_ALLOWED" in panel and FOREIGN_HOST in panel
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        words = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert FOREIGN_HOST in words and lab.state.onprem.admin_upn in words and "autodiscover.svc" in words
        await pilot.press(answer)
        await pilot.pause()
        if answer == "y":
            await until(
                pilot, lambda: verification_done(app) and screen.live.board["onprem.locate"].status is Status.PASSED
            )
            assert {h.path for h in foreign()} == {"/autodiscover/autodiscover.svc"}
        else:
            await pilot.pause(0.3)
            assert screen.live.board["onprem.locate"].status is Status.FAILED
            assert foreign() == []


@pytest.mark.kerberos
async def test_trust_action_pins_as_a_pending_change_and_the_rerun_passes(home: Home, healthy_lab: Lab) -> None:
    original = lab_onprem(home, healthy_lab, "Fabrikam by name", trusted=False)
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await until(pilot, lambda: verification_done(app))
        screen = app.screen
        assert isinstance(screen, VerificationScreen)
        assert screen.live.board["onprem.tls"].status is Status.FAILED
        await pilot.press("enter", "a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        words = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert healthy_lab.state.onprem.certificate_sha256 in words.replace(":", "")
        assert "Issuer" in words and "Subject" in words
        await pilot.press("y")
        await until(pilot, lambda: verification_done(app) and screen.live.board["onprem.tls"].status is Status.PASSED)
        assert screen.live.board.overall() is Status.PASSED
        assert app.workspace.dirty  # pending, not saved: the stored connection is as it was (its result aside)
        assert home.store.snapshot().connection(original.id).settings == original.settings
        await pilot.press("escape", "m", "p")
        await pilot.pause()
        assert isinstance(app.screen, PendingModal)
        diff = str(app.screen.query_one("#pending-diff Static", Static).render())
        # Fields are named as the wizard names them, never by their place in the stored document.
        assert "Pinned SHA-256 fingerprint" in diff and "Certificate trust" in diff and "settings." not in diff


@pytest.mark.kerberos
async def test_escape_cancels_a_long_enumeration_at_once(home: Home, make_lab: Any) -> None:
    lab = make_lab("ps-slow", mailboxes=3000)
    lab_onprem(home, lab, "Fabrikam")
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, VerificationScreen)
        await until(
            pilot,
            lambda: (
                (screen.live.board.rows.get("onprem.mailboxes") or None) is not None
                and screen.live.board["onprem.mailboxes"].done is not None
            ),
        )
        await pilot.press("escape")
        await until(pilot, lambda: not screen.live.running, timeout=5)
        statuses = {row.id: row.status for row in screen.live.board}
        assert statuses["onprem.mailboxes"] is Status.CANCELLED
        assert None not in statuses.values()
        await pilot.press("escape")  # stopped: now it goes back
        await pilot.pause()
        assert not isinstance(app.screen, VerificationScreen)


async def test_markup_and_escape_sequences_in_names_are_shown_literally(home: Home, healthy_lab: Lab) -> None:
    lab_m365(home, healthy_lab, "[b]bold[/b] [@click=app.quit]x[/]")
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#connections", DataTable)
        assert table.get_cell_at(Coordinate(0, 1)).plain == "[b]bold[/b] [@click=app.quit]x[/]"
        await pilot.press("m")
        await pilot.pause()
        cell = app.screen.query_one("#manager", DataTable).get_cell_at(Coordinate(0, 2)).plain
        assert cell.startswith("[b]bold[/b]")


async def test_quit_asks_when_changes_are_pending(home: Home, healthy_lab: Lab) -> None:
    lab_m365(home, healthy_lab, "Contoso")
    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m", "delete", "ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("n")
        await pilot.pause()
        assert app.is_running and app.workspace.dirty


async def test_help_lists_the_keys_of_the_current_screen(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpModal)
        described = " ".join(
            " ".join(line.text.split())
            for line in app.screen.query_one("#help-keys Static").render_lines(
                app.screen.query_one("#help-keys Static").region.reset_offset
            )
        )
        assert "deletion" in described and "Save every pending change" in described


def test_every_binding_has_an_id_and_a_description() -> None:
    """Every key of the console has an id (for the keymap) and a description (for the footer and help): the
    app and every screen and dialog in the screens package, found by walking the package, so a new dialog is
    covered without being listed here."""
    import importlib
    import inspect
    import pkgutil

    from textual.binding import Binding
    from textual.screen import Screen

    import screens

    classes: dict[str, Any] = {"WorkbenchApp": WorkbenchApp}
    for module_info in pkgutil.walk_packages(screens.__path__, prefix="screens."):
        module = importlib.import_module(module_info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Screen) and cls.__module__ == module.__name__:
                classes[f"{module.__name__}.{name}"] = cls
    # The screens and dialogs the console had when this test only listed them by hand, and those it missed.
    expected = {"DashboardScreen", "WizardScreen", "BrowseModal", "ImportCertificateModal", "PathModal"}
    assert expected <= {name.rsplit(".", 1)[-1] for name in classes}, sorted(classes)
    for name, cls in classes.items():
        own = [vars(base).get("BINDINGS", ()) for base in cls.__mro__ if base.__module__.startswith("screens")]
        for binding in (b for bindings in own for b in bindings):
            assert isinstance(binding, Binding), f"{name}: {binding!r} is not a Binding (it has no id)"
            assert binding.id and binding.description, f"{name}: {binding}"


def test_the_store_file_is_untouched_by_merely_looking(home: Home, healthy_lab: Lab, tmp_path: Path) -> None:
    """Opening the console, the manager and the pending view writes nothing."""
    import asyncio

    lab_m365(home, healthy_lab, "Contoso")
    before = home.store.path.read_bytes()

    async def go() -> None:
        app = app_for(home)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("m", "p", "escape", "escape")
            await pilot.pause()

    asyncio.run(go())
    assert home.store.path.read_bytes() == before


async def test_the_secret_box_never_copies_its_value(home: Home) -> None:
    from screens.dialogs.common import SecretInput

    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(SecretModal("Set the secret", "The new secret"))
        await pilot.pause()
        await pilot.press(*"hunter2SECRET", "shift+home", "ctrl+c")
        await pilot.pause()
        box = app.screen.query_one(SecretInput)
        assert box.value == "hunter2SECRET" and "hunter2SECRET" not in (app.clipboard or "")


@pytest.mark.kerberos
def test_a_kept_demo_directory_works_on_the_second_run(tmp_path: Path) -> None:
    import subprocess
    import sys

    folder = tmp_path / "trainer"
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-m", "workbench", "demo", "--home", str(folder), "--headless", "--mailboxes", "5"],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert out.returncode == 0, out.stderr
    assert "CA_BUNDLE_UNUSABLE" not in out.stdout and "NETWORK_UNREACHABLE" not in out.stdout
    assert out.stdout.count("== PASSED") == 3


async def test_after_a_conflict_u_drops_just_that_change_and_ok_saves_the_rest(home: Home, healthy_lab: Lab) -> None:
    import dataclasses

    lab_m365(home, healthy_lab, "Contoso")
    lab_onprem(home, healthy_lab, "Fabrikam")
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m", "delete", "down", "delete")  # both marked for deletion
        await pilot.pause()
        other = Home(home.path).changeset()
        other.edit(dataclasses.replace(other.get("Contoso"), name="Contoso (renamed elsewhere)"))
        other.commit()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        listed = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert "Contoso (renamed elsewhere)" in listed and "Fabrikam" not in listed.split("Reload:")[-1]
        assert "changed elsewhere: Name" in listed  # the field as the wizard names it
        await pilot.press("n")
        await pilot.pause()
        manager = front(app)
        table = manager.query_one("#manager", DataTable)
        table.move_cursor(row=table.get_row_index("id-Contoso"))
        await pilot.press("u", "ctrl+s")
        await until(pilot, lambda: not isinstance(front(app), ManagerScreen))
    assert [c.name for c in home.store.snapshot().connections] == ["Contoso (renamed elsewhere)"]


async def test_the_dashboard_follows_what_the_cli_saves(home: Home, healthy_lab: Lab) -> None:
    lab_m365(home, healthy_lab, "Contoso")
    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#connections", DataTable)
        assert table.row_count == 1
        lab_onprem(Home(home.path), healthy_lab, "Fabrikam")  # another process would do the same
        await until(pilot, lambda: table.row_count == 2, timeout=10)


def test_wide_names_are_cut_by_terminal_cells() -> None:
    from rich.cells import cell_len

    from screens.render.literal import shown

    name = "日本語の接続名前は長いです😀😀😀 wide"
    cut = shown(name, 20)
    assert cell_len(cut) <= 20 and cut.endswith("…")
    assert shown("short", 20) == "short"


def test_names_cut_to_fit_stay_distinguishable() -> None:
    """Issue 19, item 14: "Contoso production 1" and "… 2" in a narrow card were both "Contoso pro…"."""
    from rich.cells import cell_len

    from screens.render.literal import shown, shown_apart

    names = ["Contoso production 1", "Contoso production 2", "Fabrikam head office", "Short", "Contoso production 1"]
    cut = shown_apart(names, 12)
    assert all(cell_len(c) <= 12 and "…" in c for c in cut[:3]) and cut[3] == "Short"
    assert len({cut[0], cut[1], cut[2]}) == 3 and cut[0] == cut[4]  # the same name is cut the same way
    assert cut[2] == shown("Fabrikam head office", 12)  # a name that collides with nothing is cut at its end
    assert cut[0].startswith("Cont") and cut[0].endswith("1") and cut[1].endswith("2")


@pytest.mark.kerberos
async def test_a_fix_made_from_the_fleet_shows_in_its_row(home: Home, healthy_lab: Lab) -> None:
    from screens.pages.fleet import FleetScreen

    lab_onprem(home, healthy_lab, "Fabrikam by name", trusted=False)
    lab_m365(home, healthy_lab, "Contoso")
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("v")
        fleet = front(app)
        assert isinstance(fleet, FleetScreen)
        await until(pilot, lambda: not fleet.running)
        assert fleet.state_of(home.store.snapshot().connection("Fabrikam by name")) == "failed"
        table = fleet.query_one("#fleet", DataTable)
        table.move_cursor(row=table.get_row_index("id-Fabrikam by name"))
        await pilot.press("enter")
        await until(pilot, lambda: verification_done(app))
        await pilot.press("enter", "a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await until(pilot, lambda: verification_done(app) and front(app).live.board.overall() is Status.PASSED)
        assert "Verify all connections" in front(app).trail()
        await pilot.press("escape")
        await until(pilot, lambda: front(app) is fleet)
        await until(pilot, lambda: fleet.state_of(app.workspace.connection("id-Fabrikam by name")) == "passed")


async def test_enter_on_the_ca_bundle_fix_asks_for_a_file_checks_it_and_the_rerun_passes(
    home: Home, healthy_lab: Lab, tmp_path: Path
) -> None:
    from screens.dialogs.common import PathModal

    lab_onprem(home, healthy_lab, "Fabrikam by name", trusted=False)
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("not a certificate")
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await until(pilot, lambda: verification_done(app))
        await pilot.press("enter")  # the panel of the failed TLS check
        await pilot.pause()
        panel = front(app)
        first = panel.problem.fixes[0]
        assert first.action is not None and first.action.value == "trust-ca-bundle"
        await pilot.press("enter")  # the first fix is highlighted: the workbench does it
        await until(pilot, lambda: isinstance(app.screen, PathModal))
        await pilot.press(*str(not_pem))
        await pilot.press("enter")
        await pilot.pause()
        error = str(app.screen.query_one("#path-error", Static).render())
        assert isinstance(app.screen, PathModal) and "holds no PEM certificate" in error
        app.screen.query_one("#path", Input).value = healthy_lab.state.ca_bundle
        await pilot.press("enter")
        screen = front(app)
        await until(pilot, lambda: verification_done(app) and screen.live.board.overall() is Status.PASSED)
        staged: Any = app.workspace.connection("id-Fabrikam by name").settings
        assert staged.tls.mode.value == "ca-bundle" and staged.tls.ca_bundle == healthy_lab.state.ca_bundle


async def test_raise_timeout_verifies_again_with_a_longer_timeout() -> None:
    from tests.ui import scenes
    from workbench.checks import problems
    from workbench.checks.events import Finished, Outcome, Planned, Started, Summary
    from workbench.verification import plan_for

    def timing_out(connection: Any) -> list[Any]:
        info = plan_for(connection).info()
        events: list[Any] = [Planned(checks=info[:1])]
        title = info[0].title
        events.append(Started(check=info[0].id, title=title))
        outcome = Outcome.failed("no answer within 10 s", problems.TIMEOUT.fill(host="mail.fabrikam.com", port=443))
        events.append(Finished(check=info[0].id, title=title, outcome=outcome, duration_ms=10000))
        counts = dict.fromkeys(Status, 0) | {Status.FAILED: 1}
        events.append(Summary(status=Status.FAILED, counts=counts, duration_ms=10000))
        return events

    home = scenes.mixed_home()
    app = scenes.app(home, scripts={"Contoso (certificate)": timing_out})
    app.timeout = 10.0
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await until(pilot, lambda: verification_done(app))
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("down", "down", "enter")  # "Raise the timeout…"
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        question = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert "30 s instead of 10 s" in question
        before = list(app._lives)
        await pilot.press("y")
        await until(pilot, lambda: verification_done(app) and front(app).live not in before)


async def test_a_redraw_queued_as_a_screen_closes_is_dropped(home: Home) -> None:
    # A save asks every screen to redraw after the next refresh; the manager is dismissed in the same turn, and
    # its widgets are gone by the time the redraw runs (CI hit this as NoMatches '#manager').
    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await pilot.pause()
        manager = app.screen
        assert isinstance(manager, ManagerScreen)
        manager.request_refresh()
        manager.dismiss()
        await manager.remove_children()  # what the teardown does before the queued redraw runs
        manager._refresh_now()  # the queued callback, now
        await pilot.pause()
        assert app.is_running


def test_certificate_fields_cannot_forge_lines_in_a_dialog() -> None:
    """A subject with line breaks once printed fake "Issuer:" and "Self-signed: no" lines in the trust dialog and
    pushed the real ones below the fold (issue 19, item 3): every value is one escaped line, cut when huge."""
    from screens.dialogs.common import details_table

    forged = "CN=mail.contoso.com\nIssuer: CN=Contoso Root CA\nSelf-signed: no\t" + "x" * 10_000
    shown = details_table([("SHA-256", "AB" * 32), ("Subject", forged), ("Issuer", "CN=evil"), ("Self-signed", "yes")])
    lines = shown.plain.split("\n")
    assert [line.split(":", 1)[0] for line in lines] == ["SHA-256", "Subject", "Issuer", "Self-signed"]
    assert "\\x0aIssuer: CN=Contoso Root CA\\x0aSelf-signed: no\\x09" in lines[1]  # shown, not obeyed
    assert len(lines[1]) < 1_000 and "more characters" in lines[1]
    assert lines[2] == "Issuer: CN=evil" and lines[3] == "Self-signed: yes"


async def test_accepted_domains_from_the_server_are_shown_literally_in_browse() -> None:
    """Browse's UPN-suffix list showed server text as markup (`evil[b]x[/b]` drew bold; issue 19, item 7)."""
    from textual.app import App, ComposeResult
    from textual.widgets import Select

    from screens.wizard.browse import domain_options

    hostile = "evil[b]x[/b].test"

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield Select[str](domain_options([hostile, "fabrikam.test"]), id="domain", value=hostile)

    app = One()
    async with app.run_test(size=(60, 10)) as pilot:
        await pilot.pause()
        screen = app.export_screenshot()
    assert "evil[b]x[/b].test" in screen  # drawn as typed, brackets and all


@contextlib.asynccontextmanager
async def ok_while_the_store_is_busy(pilot: Any, home: Home) -> AsyncIterator[None]:
    """ctrl+s in the manager while another process holds the store's lock (as a workbench does while it saves):
    the block runs while OK waits; leaving it releases the lock."""
    import fcntl
    import os

    fd = os.open(home.store.path.with_name(home.store.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        await pilot.press("ctrl+s")
        await until(pilot, lambda: pilot.app.workspace.saving)
        yield
    finally:
        os.close(fd)


def notices(app: WorkbenchApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


@pytest.mark.parametrize("then", ["delete another", "undelete"])
async def test_what_ok_saves_is_what_was_shown_while_it_waits_for_the_store(
    home: Home, healthy_lab: Lab, then: str
) -> None:
    """Issue 19, item 1: while OK waits for another process's lock, the pending changes cannot be changed (the
    keys say so), so nothing done meanwhile is lost and nothing undone is saved anyway."""
    for name in ("Conn1", "Conn2", "Conn3"):
        lab_m365(home, healthy_lab, name)
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m", "delete")  # Conn1 marked for deletion
        await pilot.pause()
        async with ok_while_the_store_is_busy(pilot, home):
            keys = ["down", "delete", "down", "delete"] if then == "delete another" else ["delete", "question_mark"]
            await pilot.press(*keys)
            await pilot.pause()
            assert not isinstance(app.screen, HelpModal)
            ids = {c.name: c.id for c in app.workspace.connections() + app.workspace.deleted()}
            assert app.workspace.pending(ids["Conn2"]) is None and app.workspace.pending(ids["Conn3"]) is None
            assert [c.name for c in app.workspace.deleted()] == ["Conn1"]  # as shown: the undelete was refused
            assert any("being saved" in n for n in notices(app))
        await until(pilot, lambda: not isinstance(app.screen, ManagerScreen) and not app.workspace.saving)
        assert not app.workspace.dirty
    assert sorted(c.name for c in home.store.snapshot().connections) == ["Conn2", "Conn3"]


async def test_ok_pressed_twice_while_the_store_is_busy_saves_once_and_says_so(home: Home, healthy_lab: Lab) -> None:
    """Issue 19, item 5: one commit at a time; the second press says it is saving, and the first one's result
    is reported (never "deleted by another session")."""
    lab_m365(home, healthy_lab, "Conn1")
    lab_m365(home, healthy_lab, "Conn2")
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m", "delete")
        await pilot.pause()
        async with ok_while_the_store_is_busy(pilot, home):
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert any("being saved" in n for n in notices(app))
        await until(pilot, lambda: not isinstance(app.screen, ManagerScreen) and not app.workspace.saving)
        await pilot.pause()
        assert any(n.startswith("Saved: 1 deleted") for n in notices(app))
        assert not isinstance(app.screen, MessageModal | ConfirmModal)
    assert [c.name for c in home.store.snapshot().connections] == ["Conn2"]


async def test_quit_while_saving_waits_for_the_save(home: Home, healthy_lab: Lab) -> None:
    lab_m365(home, healthy_lab, "Conn1")
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m", "delete")
        await pilot.pause()
        async with ok_while_the_store_is_busy(pilot, home):
            await pilot.press("ctrl+q")  # not "discard the pending change?": it is being saved
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmModal) and app.is_running
            assert any("being saved" in n for n in notices(app))
        await until(pilot, lambda: not app.workspace.saving and not app.workspace.dirty)
    assert home.store.snapshot().connections == ()


async def test_the_palette_and_screen_switches_wait_until_a_dialog_is_answered(home: Home, healthy_lab: Lab) -> None:
    """Issue 19, item 4: ctrl+p over a dialog would let the admin delete what the dialog asks about."""
    from textual.command import CommandPalette

    lab_m365(home, healthy_lab, "Conn1")
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m", "delete", "ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert not any(isinstance(s, CommandPalette) for s in app.screen_stack)
        assert isinstance(app.screen, ConfirmModal)
        assert any("Answer the dialog first" in n for n in notices(app))


@pytest.mark.parametrize("seen", [True, False], ids=["console-has-seen-it-go", "console-has-not-looked-yet"])
async def test_an_answer_about_a_connection_deleted_meanwhile_is_refused_and_nothing_crashes(
    home: Home, healthy_lab: Lab, seen: bool
) -> None:
    """Issue 19, item 4: a dialog's answer for a connection that is gone is refused with a message, whether or not
    the console has redrawn from the store since (the hostile review: unseen, the answer was applied)."""
    lab_m365(home, healthy_lab, "Mistyped", secret="not-the-secret")
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await until(pilot, lambda: verification_done(app))
        await pilot.press("enter", "a")
        await until(pilot, lambda: isinstance(app.screen, SecretModal))
        other = Home(home.path).changeset()  # meanwhile the CLI (or a colleague's console) removes it
        other.delete(other.get("Mistyped").id)
        other.commit()
        if seen:
            app.changed()  # as when another connection's result is recorded: every screen redraws from the store
            await until(pilot, lambda: app.workspace.connections() == [])
        await pilot.press(*healthy_lab.state.m365.client_secret, "enter")
        await until(pilot, lambda: isinstance(app.screen, MessageModal))
        said = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert "Mistyped" in said and "no longer exists" in said and "Nothing was changed" in said
        assert app.is_running and app.workspace.pending("id-Mistyped") is None


async def test_an_unexpected_error_never_ends_the_console_with_pending_changes(home: Home, healthy_lab: Lab) -> None:
    """Issue 19, item 4: the last-resort handler shows the error and keeps the pending changes."""
    lab_m365(home, healthy_lab, "Conn1")
    app = app_for(home)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("m", "delete")
        await pilot.pause()

        async def defect() -> None:
            raise RuntimeError("a defect in the console [b]x[/b]")

        app.run_worker(defect())
        await until(pilot, lambda: isinstance(app.screen, MessageModal))
        said = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert "RuntimeError: a defect in the console [b]x[/b]" in said and "1 pending change" in said
        assert app.is_running and app.workspace.dirty
        await pilot.press("escape", "ctrl+s")
        await until(pilot, lambda: not app.workspace.dirty)
    assert home.store.snapshot().connections == ()
