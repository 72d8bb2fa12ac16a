"""The wizard's automatic registration, driven by keys against the lab tenant (MSAL, httpx and the lab unmodified;
the lab approves device codes as its seeded admin): Application registration → Sign in → Plan → Apply and
verify → Finish → OK, and the ways it stops (a declined code, an admin without the role, Cancel after the app
was created)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Static

from screens.dialogs.common import ConfirmModal
from screens.pages.manager import ManagerScreen
from screens.wizard import WizardScreen
from screens.wizard.registration import SignInStep
from storage import Home
from tests.ui.conftest import until
from tests.ui.test_wizard import app_for, choose, verified, wizard
from workbench.checks.events import Status
from workbench.lab import Lab
from workbench.model import CertificateCredential, M365Settings, Registration


def ours(lab: Lab, home: Home) -> list[Any]:
    assert lab.world is not None
    return [
        a
        for a in lab.world.tenant.applications.values()
        if a.unique_name == f"exchange-workbench-{home.installation_id()}"
    ]


def text_of(app: Any, selector: str) -> str:
    """What a Static shows, as plain text (tables included)."""
    from rich.console import Console

    console = Console(width=200, record=True, file=io.StringIO())
    console.print(app.screen.query_one(selector, Static).content)
    return console.export_text().strip()


async def to_sign_in(pilot: Pilot[Any]) -> WizardScreen:
    await pilot.press("n", "ctrl+l", "alt+n")  # the lab tenant's endpoints
    screen = wizard(pilot.app)  # type: ignore[arg-type]
    assert screen.step.value == "registration" and screen.wizard_draft.automatic  # automatic is the default
    await pilot.press("ctrl+l", "alt+n")  # the application account
    await pilot.pause()
    assert screen.step.value == "sign-in"
    return screen


async def signed_in(pilot: Pilot[Any], screen: WizardScreen) -> None:
    await until(pilot, lambda: screen.registration.admin is not None or screen.registration.error is not None, 30)
    await pilot.pause()


async def applied(pilot: Pilot[Any]) -> WizardScreen:
    """A new automatic registration, signed in, planned, applied and verified: the wizard on its last step."""
    screen = await to_sign_in(pilot)
    await signed_in(pilot, screen)
    await pilot.press("alt+n")
    await until(pilot, lambda: screen.registration.plan is not None, 20)
    await pilot.press("alt+n")
    return await verified(pilot)


@pytest.fixture
def auto_lab(make_lab: Callable[..., Lab]) -> Callable[..., Lab]:
    return lambda scenarios="": make_lab(scenarios, auto_approve=0.3)


async def test_automatic_registration_end_to_end_saves_on_ok(auto_lab: Callable[..., Lab], home: Home) -> None:
    lab = auto_lab()
    app = app_for(home, lab)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await to_sign_in(pilot)
        await until(pilot, lambda: screen.registration.code is not None, 20)
        await pilot.pause()
        code = screen.registration.code
        assert code is not None
        shown = text_of(app, "#code-box")
        assert shown.replace(" ", "") == code.user_code  # spaced out, large: easy to read across a room
        assert lab.state.m365.authority_host in text_of(app, "#sign-in-url")
        await pilot.press("c")  # copies the code (OSC 52)
        await signed_in(pilot, screen)
        assert "Signed in as" in text_of(app, "#sign-in-state") and "Global Administrator" in text_of(
            app, "#sign-in-state"
        )
        await pilot.press("alt+n")
        await until(pilot, lambda: screen.registration.plan is not None, 20)
        await pilot.pause()
        plan_text = text_of(app, "#plan-rows")
        assert "create 'Exchange Workbench'" in plan_text and "full_access_as_app" in plan_text
        assert ours(lab, home) == []  # the plan is a dry run
        assert str(app.screen.query_one("#next", Button).label).startswith("Apply")
        await pilot.press("alt+n")
        done = await verified(pilot)
        summary = done.live.board.summary
        assert summary is not None and not summary.failed, [(r.id, r.detail) for r in done.live.board]
        assert done.live.board["register.application"].status is Status.PASSED
        assert len(ours(lab, home)) == 1
        await pilot.press("alt+n")
        await pilot.pause()
        assert isinstance(app.screen, ManagerScreen)
        assert not home.store.snapshot().connections  # pending until OK
        await pilot.press("ctrl+s")
        await pilot.pause()
    (saved,) = home.store.snapshot().connections
    settings = saved.settings
    assert isinstance(settings, M365Settings) and settings.registration is Registration.AUTOMATIC
    assert isinstance(settings.credential, CertificateCredential)
    assert home.certificates.get(settings.credential.thumbprint).key_size == 2048
    assert saved.name == lab.state.m365.tenant_domain
    (app_object,) = ours(lab, home)
    assert settings.client_id == app_object.app_id

    # Editing it without registering again verifies the registered app (no sign-in).
    app = app_for(home, lab)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("m", "enter", "alt+n")
        screen = wizard(app)
        assert screen.step.value == "registration" and not screen.wizard_draft.registering
        assert app.screen.query_one("#reregister").display  # registering again is offered for its app
        await pilot.press("alt+n")
        done = await verified(pilot)
        assert done.step.value == "configuration"
        assert done.live.board.summary is not None and not done.live.board.summary.failed
        assert "register.application" not in {r.id for r in done.live.board}
    assert len(ours(lab, home)) == 1


async def test_an_admin_without_the_role_is_stopped_before_anything_is_created(
    auto_lab: Callable[..., Lab], home: Home
) -> None:
    lab = auto_lab("not-admin")
    app = app_for(home, lab)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await to_sign_in(pilot)
        await signed_in(pilot, screen)
        said = text_of(app, "#sign-in-state")
        assert "holds no directory role" in said and "Global Administrator or Privileged Role" in said
        assert app.screen.query_one("#next", Button).disabled
        await pilot.press("alt+n")
        assert screen.step.value == "sign-in"
    assert ours(lab, home) == []


async def test_a_declined_code_is_explained_and_new_code_starts_again(make_lab: Callable[..., Lab], home: Home) -> None:
    lab = make_lab()  # no auto-approval: the test plays the admin
    assert lab.world is not None
    app = app_for(home, lab)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await to_sign_in(pilot)
        await until(pilot, lambda: screen.registration.code is not None, 20)
        first = screen.registration.code
        assert first is not None
        flow = next(f for f in lab.world.tenant.device_flows.values() if f.user_code == first.user_code)
        flow.declined = True
        await signed_in(pilot, screen)
        assert "declined" in text_of(app, "#sign-in-state")
        screen.query_one(SignInStep).new_code()
        await until(pilot, lambda: screen.registration.code not in (None, first), 20)
        second = screen.registration.code
        assert second is not None
        flow = next(f for f in lab.world.tenant.device_flows.values() if f.user_code == second.user_code)
        flow.approved_by = next(u for u in lab.world.tenant.users.values() if u.password is not None)
        await signed_in(pilot, screen)
        assert screen.registration.admin is not None


async def test_the_sign_in_address_shows_its_authority_and_a_doubt_literally(
    make_lab: Callable[..., Lab], home: Home
) -> None:
    # Issue 19, item 13. The lab (a custom cloud) is its own authority: its host beside the address, no warning.
    # A code whose address a Microsoft cloud's authority gave outside Microsoft's sign-in pages carries a doubt,
    # drawn as text (never markup) with control characters visible.
    from dataclasses import replace
    from urllib.parse import urlsplit

    from workbench.clouds import BUILT_IN
    from workbench.model import Cloud
    from workbench.registration.signin import sign_in_page_doubt
    from workbench.text import visible

    lab = make_lab()  # nobody approves: the step stays on the code
    app = app_for(home, lab)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await to_sign_in(pilot)
        await until(pilot, lambda: screen.registration.code is not None, 20)
        await pilot.pause()
        shown = text_of(app, "#sign-in-url")
        assert f"(from {urlsplit(lab.state.m365.authority_host).netloc})" in shown and "⚠" not in shown
        code = screen.registration.code
        assert code is not None
        hostile = "https://evil[b]x[/b]\x1b[31m.example/devicelogin"
        screen.registration.code = replace(
            code,
            verification_uri=visible(hostile),
            authority_host="login.microsoftonline.com",
            doubt=sign_in_page_doubt(hostile, BUILT_IN[Cloud.GLOBAL].authority_host),
        )
        pane = screen.pane()
        assert isinstance(pane, SignInStep)
        pane.show(screen.registration)
        await pilot.pause()
        shown = text_of(app, "#sign-in-url")
        assert "(from login.microsoftonline.com)" in shown
        assert "⚠ login.microsoftonline.com answered with a sign-in address that is not one of Microsoft's" in (
            " ".join(shown.split())
        )
        assert "evil[b]x[/b]\\x1b[31m.example" in shown  # literal: the markup and the escape as typed
        assert "https://microsoft.com/devicelogin" in " ".join(shown.split())


async def test_in_the_demo_the_sign_in_step_says_the_lab_approves_the_code(
    make_lab: Callable[..., Lab], home: Home
) -> None:
    # Issue 19, item 19: `workbench demo` runs the lab with auto-approval; the step says so instead of leaving a
    # newcomer looking for a browser. Outside the demo (no auto-approval known), nothing is said.
    from screens.wizard import LabValues

    lab = make_lab(auto_approve=5.0)
    app = app_for(home, lab)
    app.lab_values = LabValues.of(lab.state, auto_approve=5.0)  # as `workbench demo` gives them
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await to_sign_in(pilot)
        await until(pilot, lambda: screen.registration.code is not None, 20)
        await pilot.pause()
        said = " ".join(text_of(app, "#sign-in-state").split())
        assert "Demo: the lab approves this code by itself after about 5 seconds" in said
        await signed_in(pilot, screen)
        assert "approves this code" not in text_of(app, "#sign-in-state")  # done: the note has served

    other = app_for(home, make_lab())
    async with other.run_test(size=(80, 24)) as pilot:
        screen = await to_sign_in(pilot)
        await until(pilot, lambda: screen.registration.code is not None, 20)
        await pilot.pause()
        assert "approves this code" not in text_of(other, "#sign-in-state")


async def test_cancel_after_the_app_was_created_says_it_stays(auto_lab: Callable[..., Lab], home: Home) -> None:
    lab = auto_lab()
    app = app_for(home, lab)
    async with app.run_test(size=(120, 40)) as pilot:
        await applied(pilot)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        question = text_of(app, ".dialog-question")
        assert "stays registered in the tenant" in question
        # The way to remove it is in the dialog itself (the Configuration step shows none after a success).
        assert "Configuration step" not in question
        (registered,) = ours(lab, home)
        details = " ".join(text_of(app, ".dialog-details Static").split())
        assert f"Invoke-MgGraphRequest -Method DELETE -Uri '{lab.state.m365.graph_url}/v1.0/applications/" in details
        assert registered.object_id in details and "App registrations" in details
        await pilot.press("y")
        await pilot.pause()
        assert not isinstance(app.screen, WizardScreen) and not app.workspace.dirty
    assert not home.store.path.exists() or not home.store.snapshot().connections
    assert len(ours(lab, home)) == 1  # in the tenant, as the dialog said


async def test_quitting_after_the_app_was_created_says_it_stays_and_how_to_remove_it(
    auto_lab: Callable[..., Lab], home: Home
) -> None:
    # Issue 19, item 9: the Quit dialog said only that a connection was being entered.
    lab = auto_lab()
    app = app_for(home, lab)
    async with app.run_test(size=(80, 24)) as pilot:
        await applied(pilot)
        (registered,) = ours(lab, home)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        question = text_of(app, ".dialog-question")
        assert "Exchange Workbench" in question and "stays registered in the tenant" in question
        details = str(app.screen.query_one(".dialog-details Static", Static).render())
        assert registered.app_id in details
        url = f"{lab.state.m365.graph_url}/v1.0/applications/{registered.object_id}"
        assert f"Invoke-MgGraphRequest -Method DELETE -Uri '{url}'" in details
        await pilot.press("n")  # Stay
        await pilot.pause()
        assert isinstance(app.screen, WizardScreen)


async def test_choosing_manual_shows_application_details(home: Home) -> None:
    app = app_for(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n", "alt+n")
        screen = wizard(app)
        assert not app.screen.query_one("#reregister").display  # a new connection has no app to register again
        assert [s.value for s in screen.wizard_draft.steps()] == [
            "location",
            "registration",
            "sign-in",
            "plan",
            "configuration",
        ]
        await choose(pilot, "#registration", 1)
        assert [s.value for s in screen.wizard_draft.steps()] == [
            "location",
            "registration",
            "application",
            "configuration",
        ]
        await pilot.press("alt+n")
        assert screen.step.value == "application"


async def test_deleting_an_automatic_connection_offers_to_delete_its_app(
    auto_lab: Callable[..., Lab], home: Home
) -> None:
    from screens.dialogs.app_cleanup import AppCleanupModal

    lab = auto_lab()
    app = app_for(home, lab)
    async with app.run_test(size=(120, 40)) as pilot:
        await applied(pilot)
        await pilot.press("alt+n")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert len(ours(lab, home)) == 1
        (certificate,) = home.certificates.list()
        assert home.vault().refs() == {f"cert-key:{certificate.thumbprint}"}
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("delete")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, AppCleanupModal))
        # The certificate registration made for the app left with OK, private key included: no longer offered by
        # Choose certificate…, whatever the admin answers about the app.
        assert home.certificates.list() == () and app.workspace.certificates() == []
        assert home.vault().refs() == set()
        modal = app.screen
        later = " ".join(text_of(app, "#cleanup-later").split())  # as one line, however it wraps
        (registered,) = ours(lab, home)
        url = f"{lab.state.m365.graph_url}/v1.0/applications/{registered.object_id}"
        command = (  # a line an admin can paste, not a bare "DELETE https://…"
            f"Connect-MgGraph -Environment Global -Scopes Application.ReadWrite.All; "
            f"Invoke-MgGraphRequest -Method DELETE -Uri '{url}'"
        )
        assert command in later and "App registrations" in later
        copied: list[str] = []
        app.copy_to_clipboard = copied.append  # type: ignore[method-assign,assignment]
        await pilot.press("c")
        assert copied == [command]
        assert "still in the tenant" in text_of(app, "#cleanup-question")
        await pilot.press("d")  # sign in (the lab approves) and delete
        await until(pilot, lambda: isinstance(modal, AppCleanupModal) and modal.state == "done", 30)
        assert "Deleted the app" in text_of(app, "#cleanup-state")
        question = text_of(app, "#cleanup-question")  # the question no longer says the app is in the tenant
        assert "still in the tenant" not in question and "no longer in the tenant" in question
        assert not app.screen.query_one("#cleanup-later").display  # no way to delete "later" what is gone
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, AppCleanupModal)
    assert ours(lab, home) == []
    assert not home.store.snapshot().connections


async def test_a_damaged_installation_id_does_not_crash_the_manager(auto_lab: Callable[..., Lab], home: Home) -> None:
    lab = auto_lab()
    app = app_for(home, lab)
    async with app.run_test(size=(120, 40)) as pilot:
        await applied(pilot)
        await pilot.press("alt+n")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        (home.path / "installation-id").write_text("garbage")
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("delete")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not home.store.snapshot().connections and not isinstance(app.screen, ManagerScreen))
        assert app.is_running and not isinstance(app.screen, ManagerScreen)  # saved; no offer without the id
    assert not home.store.snapshot().connections


async def test_a_registration_that_fails_later_says_what_exists_and_how_to_remove_it(
    make_lab: Callable[..., Lab], home: Home
) -> None:
    lab = make_lab("ews-disabled", auto_approve=0.3)
    app = app_for(home, lab)
    async with app.run_test(size=(120, 40)) as pilot:
        done = await applied(pilot)
        assert done.live.board.summary is not None and done.live.board.summary.failed
        note = " ".join(text_of(app, "#configuration-note").split())  # as one line, however it wraps
        (registered,) = ours(lab, home)
        assert f"object ID {registered.object_id}" in note and "To finish: run the registration again" in note
        assert f"Invoke-MgGraphRequest -Method DELETE -Uri '{lab.state.m365.graph_url}/v1.0/applications/" in note


async def test_a_plan_read_again_after_the_app_was_created_does_not_say_nothing_was_written(
    auto_lab: Callable[..., Lab], home: Home
) -> None:
    # Found by the hostile review: after Apply, Back to Sign in and New code, the plan read again (an update of
    # the app now in the tenant) said "Nothing has been written yet." under it.
    lab = auto_lab()
    app = app_for(home, lab)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await applied(pilot)
        await pilot.press("alt+b", "alt+b")
        await pilot.pause()
        assert screen.step.value == "sign-in"
        screen.query_one(SignInStep).new_code()
        await until(pilot, lambda: screen.registration.admin is not None, 30)
        await pilot.press("alt+n")
        await until(pilot, lambda: screen.registration.plan is not None, 20)
        await pilot.pause()
        intro = " ".join(text_of(app, "#step-plan .intro").split())
        assert "Nothing has been written yet" not in intro
        assert "already in the tenant" in intro
        assert str(app.screen.query_one("#next", Button).label).startswith("Apply")


async def test_back_to_the_plan_after_it_was_applied_says_so_and_next_does_not_offer_to_apply_again(
    auto_lab: Callable[..., Lab], home: Home
) -> None:
    # Found by the hostile review: the Plan step still said "Nothing has been written yet." and its button
    # "Apply" after the plan had been applied (Next re-applies nothing: only the words were wrong).
    lab = auto_lab()
    app = app_for(home, lab)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await applied(pilot)
        await pilot.press("alt+b")
        await pilot.pause()
        assert screen.step.value == "plan"
        said = " ".join(text_of(app, "#step-plan .intro").split()) + " " + " ".join(text_of(app, "#plan-rows").split())
        assert "Nothing has been written yet" not in said and "alt+n applies the plan" not in said
        assert "applied" in said
        assert str(app.screen.query_one("#next", Button).label).startswith("Next")
        await pilot.press("alt+n")
        done = await verified(pilot)
        assert len(ours(lab, home)) == 1  # nothing applied twice
        assert done.live.board.summary is not None and not done.live.board.summary.failed
