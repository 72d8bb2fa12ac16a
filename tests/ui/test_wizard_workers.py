"""The wizard's registration workers: an error the core does not name ends the sign-in's or the plan's worker,
and the step says it (never a crash); a new code cancels the sign-in it replaces, whose late answer is dropped;
a damaged installation id is said on the Sign in step."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from screens.wizard.registration import SignInStep
from storage import Home, StorageError
from tests.ui import scenes
from tests.ui.conftest import until
from tests.ui.test_wizard import app_for, paste, wizard
from tests.ui.test_wizard_registration import text_of
from workbench.registration import Admin, Registrar, RegistrationPlan, RegistrationRequest

Make = Callable[[RegistrationRequest, str], Registrar]


def factory(kind: type[scenes.ScriptedRegistrar], made: list[Registrar] | None = None) -> Make:
    def make(request: RegistrationRequest, installation_id: str) -> Registrar:
        registrar = kind(request, installation_id="0f3b2c1d4e5a46b7889900aabbccddee")
        if made is not None:
            made.append(registrar)
        return registrar

    return make


async def to_sign_in(pilot: Pilot[Any]) -> None:
    await pilot.press("n", "alt+n")  # Microsoft 365, the global cloud; automatic registration
    await paste(pilot, "#reg-app-account", "backup@contoso.com")
    await pilot.press("alt+n")
    await pilot.pause()
    assert wizard(pilot.app).step.value == "sign-in"  # type: ignore[arg-type]


class NetworkDown(scenes.ScriptedRegistrar):
    def wait_for_admin(self, cancelled: Callable[[], bool] = lambda: False) -> Admin:
        raise ConnectionError("the network is down [b]x[/b]")


class GraphDown(scenes.ScriptedRegistrar):
    def prepare(self) -> RegistrationPlan:
        raise RuntimeError("Graph is down")


class Held(scenes.ScriptedRegistrar):
    """Waits until told (or cancelled), then answers as an admin: a late answer."""

    release = threading.Event()

    def wait_for_admin(self, cancelled: Callable[[], bool] = lambda: False) -> Admin:
        while not self.release.wait(0.05):
            if cancelled():
                break
        self.outcome = "admin"
        return super().wait_for_admin(cancelled)


async def test_a_sign_in_that_fails_unexpectedly_is_said_on_the_step(home: Home) -> None:
    app = app_for(home, registrar=factory(NetworkDown))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_sign_in(pilot)
        screen = wizard(app)
        await until(pilot, lambda: screen.registration.error is not None, 20)
        said = " ".join(text_of(app, "#sign-in-state").split())
        assert "The sign-in failed: the network is down [b]x[/b]" in said  # literal, as the error said it
        assert screen.registration.admin is None and not screen.registration.waiting


async def test_a_plan_that_cannot_be_read_is_said_on_the_step(home: Home) -> None:
    app = app_for(home, registrar=factory(GraphDown))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_sign_in(pilot)
        screen = wizard(app)
        await until(pilot, lambda: screen.registration.admin is not None, 20)
        await pilot.press("alt+n")
        await until(pilot, lambda: screen.registration.plan_error is not None, 20)
        assert "Cannot read the tenant: Graph is down" in text_of(app, "#plan-rows")
        assert screen.registration.plan is None and not screen.registration.planning


async def test_a_new_code_cancels_the_sign_in_it_replaces_and_drops_its_answer(home: Home) -> None:
    made: list[Registrar] = []
    Held.release = threading.Event()
    app = app_for(home, registrar=factory(Held, made))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_sign_in(pilot)
        screen = wizard(app)
        await until(pilot, lambda: screen.registration.code is not None, 20)
        first = made[0]
        screen.query_one(SignInStep).new_code()
        await until(pilot, lambda: len(made) == 2 and screen.registration.registrar is made[1], 20)
        await until(pilot, lambda: screen.registration.code is not None and screen.registration.waiting, 20)
        await pilot.pause(0.3)  # the first sign-in, cancelled, has answered by now
        assert screen.registration.admin is None and screen.registration.registrar is not first
        Held.release.set()  # the current sign-in answers: that answer counts
        await until(pilot, lambda: screen.registration.admin is not None, 20)
        assert screen.registration.registrar is made[1]


async def test_a_damaged_installation_id_is_said_on_the_sign_in_step(home: Home, monkeypatch: Any) -> None:
    def damaged(self: Home) -> str:
        raise StorageError(f"{self.path}/installation-id does not hold an installation id (32 hex digits)")

    monkeypatch.setattr(Home, "installation_id", damaged)
    app = app_for(home, registrar=factory(scenes.ScriptedRegistrar))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_sign_in(pilot)
        screen = wizard(app)
        await until(pilot, lambda: screen.registration.error is not None, 20)
        assert "does not hold an installation id" in " ".join(text_of(app, "#sign-in-state").split())
