"""Automatic registration's work for the wizard: the device-code sign-in and the plan read from the tenant, each
in an exclusive thread worker of its own group. What they found is `state` (a `RegistrationState`); each change
is announced with `RegistrationFlow.Changed`, which the wizard handles by redrawing and checking the draft again.

A newer sign-in cancels the older one's worker; a result from a cancelled worker is dropped (cancellation and the
result's handling both happen on the UI's loop, so nothing stale gets through). The core sees the cancellation as
a plain `cancelled()` callable. Errors the core does not name end the worker in error (`exit_on_error=False`) and
are said on the step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from textual import work
from textual.message import Message
from textual.widget import Widget
from textual.worker import Worker, WorkerState, get_current_worker

from storage import StorageError
from workbench import validate
from workbench.certificates import LoadedCertificate
from workbench.drafts import Stamp
from workbench.model import AppRegistration, CertificateCredential, CertificateInfo, Connection, M365Settings
from workbench.registration import (
    Admin,
    DeviceCode,
    Registrar,
    RegistrationPlan,
    RegistrationRequest,
    SignInError,
    removal_instructions,
)
from workbench.registration.apply import RegistrationRun
from workbench.text import visible
from workbench.validate import FieldError

if TYPE_CHECKING:
    from ..console import Console

SIGN_IN, PLAN = "sign-in", "plan"


@dataclass
class RegistrationState:
    """The automatic registration of one wizard: who signed in, the plan, the run that applies it."""

    registrar: Registrar | None = None
    key: tuple[object, ...] = ()  # what the sign-in was for (cloud, endpoints, tenant, client): a change restarts it
    code: DeviceCode | None = None
    admin: Admin | None = None
    error: SignInError | None = None
    waiting: bool = False
    plan: RegistrationPlan | None = None
    plan_error: str | None = None
    planning: bool = False
    run: RegistrationRun | None = None

    def forget_sign_in(self) -> None:
        if self.registrar is not None:
            self.registrar.close()
        self.registrar, self.code, self.admin, self.error, self.waiting = None, None, None, None, False
        self.plan, self.plan_error = None, None

    def connection(self, stamp: Stamp, name: str) -> Connection | None:
        """The connection the registration produced, named `name` (None: nothing registered yet, or `name` is not a
        valid connection name)."""
        if self.registrar is None or self.run is None or self.run.registered_settings() is None:
            return None
        connection = self.registrar.connection(self.run, stamp)
        try:
            return replace(connection, name=validate.connection_name(name))
        except FieldError:
            return None

    @property
    def created(self) -> bool:
        """Whether a run has written to the tenant (the app exists now)."""
        return self.run is not None and not self.run.ledger.empty

    def left_in_tenant(self, running: bool) -> tuple[str, list[tuple[str, str]]]:
        """For a dialog that leaves the wizard (Quit, Cancel): what the registration left in the tenant, as a sentence,
        and the app with the ways to remove it, as details ("" and none when nothing was written). `running`:
        the registration is still under way, so what it is creating stays too."""
        run = self.run
        if run is None:
            return "", []
        ledger, plan = run.ledger, run.plan
        if ledger.empty or ledger.object_id is None:
            if not running:
                return "", []
            return f" The app '{plan.display_name}' is being registered: what is created stays in the tenant.", []
        sentence = f" The app '{plan.display_name}' stays registered in the tenant; registering again updates it."
        details = [("App", f"{plan.display_name}, app ID {ledger.app_id}")]
        registration = AppRegistration(app_object_id=ledger.object_id, unique_name=plan.unique_name)
        graph, portal = (
            line.partition(": ")[2]
            for line in removal_instructions(run.endpoints.graph_url, registration, run.cloud)[:2]
        )
        details += [("To remove it (PowerShell, as a Global Administrator)", graph), ("Or in the portal", portal)]
        return sentence, details


def registrar_for(
    request: RegistrationRequest,
    workbench: Console,
    certificates: Iterable[CertificateInfo],
    editing: Connection | None,
) -> Registrar:
    """The core's registrar for `request`, with the workspace's connections and `certificates` (the app's
    scripted one when the app has a factory). Raises `StorageError`/`OSError` for a damaged installation id."""
    space = workbench.workspace
    installation = space.home.installation_id()
    factory = workbench.registrar_factory
    if factory is not None:
        return factory(request, installation)
    held = {c.thumbprint: c for c in certificates}
    current = None
    stored = editing.settings if editing is not None else None
    if (
        isinstance(stored, M365Settings)
        and stored.app_registration is not None
        and isinstance(stored.credential, CertificateCredential)
    ):  # an app registered automatically keeps its certificate (a manual app's stays with that app)
        current = held.get(stored.credential.thumbprint)
    return Registrar(
        request,
        installation_id=installation,
        connections=tuple(space.connections()),
        certificate=lambda thumbprint: held.get(thumbprint.upper()),
        current=current,
        timeout=workbench.timeout,
    )


class RegistrationFlow(Widget):
    """The sign-in and the plan of one wizard (a widget that shows nothing: it owns the workers and their
    messages). `make_registrar` makes the core's `Registrar` for a request (raising `SignInError` when it may not
    register, `StorageError`/`OSError` when the installation id cannot be read); `clock` is the app's."""

    DEFAULT_CSS = "RegistrationFlow { display: none; }"

    class Changed(Message):
        """The sign-in or the plan moved on: the steps redraw, the rules run again."""

    # From the workers to the flow itself (on the UI's loop, where a cancelled worker's result is dropped).

    class CodeArrived(Message, bubble=False):
        def __init__(self, worker: Worker[None], code: DeviceCode) -> None:
            super().__init__()
            self.worker, self.code = worker, code

    class SignedIn(Message, bubble=False):
        def __init__(self, worker: Worker[None], admin: Admin | None, error: SignInError | None) -> None:
            super().__init__()
            self.worker, self.admin, self.error = worker, admin, error

    class Planned(Message, bubble=False):
        def __init__(self, worker: Worker[None], plan: RegistrationPlan | None, error: str | None) -> None:
            super().__init__()
            self.worker, self.plan, self.error = worker, plan, error

    def __init__(self, make_registrar: Callable[[RegistrationRequest], Registrar], clock: Callable[[], float]) -> None:
        super().__init__()
        self.state = RegistrationState()
        self._make_registrar = make_registrar
        self._clock = clock
        self._code_shown_at = 0.0  # when the sign-in code arrived, on the app's clock (for the time left)

    def on_unmount(self) -> None:
        self.forget_sign_in()  # a sign-in still waiting stops within a second

    # ------------------------------------------------------------------ the sign-in

    def sign_in_if_needed(self, request: RegistrationRequest | None, key: tuple[object, ...]) -> None:
        """Sign in for `request` unless an admin signed in (or is being waited for) for the same `key`."""
        state = self.state
        if state.key == key and (state.admin is not None or state.waiting):
            return
        self.restart_sign_in(request, key)

    def forget_sign_in(self) -> None:
        """Whatever sign-in (and plan) was under way stops, and what it found is forgotten."""
        self.workers.cancel_group(self, SIGN_IN)
        self.workers.cancel_group(self, PLAN)
        self.state.forget_sign_in()
        self.state.planning = False

    def restart_sign_in(self, request: RegistrationRequest | None, key: tuple[object, ...]) -> None:
        """A new code for `request` (None: a field it needs is invalid, nothing starts)."""
        state = self.state
        self.forget_sign_in()
        if request is None:
            return
        try:
            registrar = self._make_registrar(request)
            registrar.refuse_foreign()
        except SignInError as error:
            state.error = error
        except (StorageError, OSError) as error:  # a damaged installation id file says what to do
            state.error = SignInError("failed", str(error))
        else:
            state.registrar, state.key, state.waiting = registrar, key, True
            self._sign_in(registrar)
        self.post_message(self.Changed())

    @work(thread=True, exclusive=True, group=SIGN_IN, exit_on_error=False)
    def _sign_in(self, registrar: Registrar) -> None:
        """Ask for a code, show it, wait for the admin (until the worker is cancelled). Errors the core does not
        name end the worker in error (see `on_worker_state_changed`)."""
        worker = get_current_worker()
        try:
            code = registrar.start_sign_in()
            if worker.is_cancelled:
                return
            self.post_message(self.CodeArrived(worker, code))
            admin = registrar.wait_for_admin(lambda: worker.is_cancelled)
        except SignInError as error:
            self.post_message(self.SignedIn(worker, None, error))
            return
        self.post_message(self.SignedIn(worker, admin, None))

    def on_registration_flow_code_arrived(self, message: CodeArrived) -> None:
        if message.worker.is_cancelled:
            return
        self.state.code = message.code
        self._code_shown_at = self._clock()
        self.post_message(self.Changed())

    def on_registration_flow_signed_in(self, message: SignedIn) -> None:
        if message.worker.is_cancelled:
            return
        state = self.state
        state.waiting, state.admin, state.error = False, message.admin, message.error
        self.post_message(self.Changed())

    def code_seconds_left(self) -> int:
        code = self.state.code
        if code is None:
            return 0
        return max(0, int(code.lifetime - (self._clock() - self._code_shown_at)))

    # ------------------------------------------------------------------ the plan

    def prepare_plan(self, *, applied: bool = False) -> None:
        """Read the plan from the tenant, once an admin signed in. `applied`: the plan shown was applied and
        verified, and stays (Next shows its results again)."""
        state = self.state
        registrar = state.registrar
        if registrar is None or state.admin is None or state.planning:
            return
        if applied and state.run is not None and state.run.plan is state.plan:
            return
        state.plan, state.plan_error, state.planning = None, None, True
        self._plan(registrar)

    @work(thread=True, exclusive=True, group=PLAN, exit_on_error=False)
    def _plan(self, registrar: Registrar) -> None:
        worker = get_current_worker()
        self.post_message(self.Planned(worker, registrar.prepare(), None))

    def on_registration_flow_planned(self, message: Planned) -> None:
        if message.worker.is_cancelled:
            return
        state = self.state
        state.planning = False
        state.plan, state.plan_error = message.plan, message.error
        self.post_message(self.Changed())

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that failed (network trouble the core does not name): said on its step, never a crash."""
        worker = event.worker
        if event.state is not WorkerState.ERROR or worker.is_cancelled:
            return
        error = worker.error
        if worker.group == SIGN_IN:
            failure = SignInError("failed", f"The sign-in failed: {visible(str(error))}", str(error))
            self.post_message(self.SignedIn(worker, None, failure))
        elif worker.group == PLAN:
            self.post_message(self.Planned(worker, None, f"Cannot read the tenant: {error}"))

    # ------------------------------------------------------------------ applying

    def start_run(self, stage_certificate: Callable[[LoadedCertificate], object]) -> RegistrationRun | None:
        """The registration of the confirmed plan, to hand to a verification (None before a plan was read)."""
        state = self.state
        if state.registrar is None or state.plan is None:
            return None
        state.run = state.registrar.run(stage_certificate)
        return state.run
