"""Automatic registration from start to finish, as the CLI and the console drive it:

    registrar = Registrar(request, installation_id=home.installation_id())
    code = registrar.start_sign_in()          # show code.user_code and code.verification_uri
    admin = registrar.wait_for_admin(cancel)  # blocks; SignInError explains a decline, an expiry, a missing role
    plan = registrar.prepare()                # the dry run: read-only
    run = registrar.run(stage_certificate=…)  # after the admin confirmed: a RegistrationRun for the engine
    verification = Verification(registrar.target(home, changes), registration=run)
    connection = registrar.connection(run, stamp)  # once the app is registered

The blocking calls are meant for a worker thread; each is bounded by the HTTP timeout or the code's lifetime, and
all of them end at once when `close()` is called from another thread (the console quitting, a dialog closed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench import certificates
from workbench.clouds import endpoints_of
from workbench.drafts import Stamp, m365_draft
from workbench.home_target import target_for
from workbench.model import (
    AppRegistration,
    CertificateCredential,
    CertificateInfo,
    Cloud,
    Connection,
    CustomEndpoints,
    M365Settings,
    Registration,
)
from workbench.net import deadline
from workbench.text import visible

from .apply import PROPAGATION_WAIT, RegistrationRun
from .plan import RegistrationPlan, build_plan, survey, unique_name_for
from .signin import Admin, AdminSession, DeviceCode, DeviceSignIn, SignInError, public_client_id, with_roles

if TYPE_CHECKING:
    from storage import Changeset, Home
    from workbench.checks.target import Target


def uses_app(connection: Connection, unique_name: str, tenant_id: str) -> bool:
    """Whether `connection` uses the app registered as `unique_name` in the tenant `tenant_id` (the same unique
    name names one app in each tenant this installation registered in)."""
    s = connection.settings
    return (
        isinstance(s, M365Settings)
        and s.app_registration is not None
        and s.app_registration.unique_name == unique_name
        and s.tenant_id.lower() == tenant_id.lower()
    )


def certificates_on_app(
    connections: Iterable[Connection],
    unique_name: str,
    tenant_id: str,
    certificate: Callable[[str], CertificateInfo | None],
    skip: str | None = None,
) -> tuple[CertificateInfo, ...]:
    """The certificates of this installation's connections (but `skip`) that use the app named `unique_name` in
    `tenant_id`: they stay on the app when registration replaces its key collection. A lost certificate is not
    kept."""
    found: list[CertificateInfo] = []
    for connection in connections:
        s = connection.settings
        if (
            connection.id != skip
            and uses_app(connection, unique_name, tenant_id)
            and isinstance(s, M365Settings)
            and isinstance(s.credential, CertificateCredential)
        ):
            info = certificate(s.credential.thumbprint)
            if info is not None and all(c.thumbprint != info.thumbprint for c in found):
                found.append(info)
    return tuple(found)


@dataclass(frozen=True, slots=True)
class RegistrationRequest:
    """What the admin asked for. `existing` is the connection being registered again (repair, rotation)."""

    app_account: str
    name: str = ""
    cloud: Cloud = Cloud.GLOBAL
    custom_endpoints: CustomEndpoints | None = None
    ca_bundle: str | None = None
    tenant_id: str | None = None
    public_client_id: str | None = None
    existing: Connection | None = None
    rotate_certificate: bool = False

    @property
    def registered(self) -> AppRegistration | None:
        """What the connection being registered again already has (its app, its sign-in client)."""
        existing = self.existing
        if existing is not None and isinstance(existing.settings, M365Settings):
            return existing.settings.app_registration
        return None

    @property
    def sign_in_client(self) -> str | None:
        """The sign-in client asked for now, else the one the connection was registered with (None: the
        environment's or Microsoft Graph Command Line Tools)."""
        registered = self.registered
        return self.public_client_id or (registered.sign_in_client_id if registered else None)


@dataclass
class Registrar:
    """One automatic registration (a new connection, a repair, a rotation, or a deletion of the app).

    `connections` are this installation's connections and `certificate` finds a certificate of its store: once the
    admin signed in (the tenant is known), the certificates of the other connections to the same app in the same
    tenant are kept on it. The key collection registration writes is those, this connection's `current` one
    (unless rotated away) and the new one. The installation id may be empty when the connection's app is known (a
    deletion)."""

    request: RegistrationRequest
    installation_id: str
    connections: tuple[Connection, ...] = ()
    certificate: Callable[[str], CertificateInfo | None] = lambda thumbprint: None
    current: CertificateInfo | None = None  # the existing connection's certificate
    timeout: float = 20.0
    keep: tuple[CertificateInfo, ...] = field(default=(), init=False)
    _sign_in: DeviceSignIn | None = field(default=None, init=False, repr=False)
    _session: AdminSession | None = field(default=None, init=False, repr=False)
    _plan: RegistrationPlan | None = field(default=None, init=False, repr=False)
    # Expired by close(): the sign-in's requests (and those within `bound()`) end then, whatever the server does.
    _end: deadline.Deadline = field(default_factory=deadline.Deadline, init=False, repr=False)

    @property
    def unique_name(self) -> str:
        registered = self.request.registered
        if registered is not None:
            return registered.unique_name  # the app this connection already uses
        if not self.installation_id:
            raise RuntimeError("a new registration needs the installation id")
        return unique_name_for(self.installation_id)

    @property
    def foreign(self) -> bool:
        """Whether the connection's app was registered by another installation (an imported connection): its
        keys are that installation's, so this one may neither rewrite them nor delete the app."""
        registered = self.request.registered
        return registered is not None and registered.unique_name != unique_name_for(self.installation_id)

    def refuse_foreign(self) -> None:
        if self.foreign:
            registered = self.request.registered
            assert registered is not None
            raise SignInError(
                "foreign",
                f"This connection's app ({registered.unique_name}) was registered by another workbench installation, "
                "which holds its certificates. Register it again from there; or, here, remove this connection "
                "(without --delete-app) and add it again with automatic registration, which creates this "
                "installation's own app",
            )

    @property
    def graph_url(self) -> str:
        return endpoints_of(self.request.cloud, self.request.custom_endpoints).graph_url

    @property
    def new_certificate(self) -> bool:
        return self.current is None or self.request.rotate_certificate

    def bound(self) -> deadline.bind:
        """`with registrar.bound():` — calls made inside end when the registrar is closed."""
        return deadline.bind(self._end)

    def start_sign_in(self) -> DeviceCode:
        request = self.request
        self._close_sign_in()
        self._sign_in = DeviceSignIn(
            endpoints_of(request.cloud, request.custom_endpoints),
            tenant_id=request.tenant_id,
            client_id=public_client_id(request.sign_in_client),
            ca_bundle=request.ca_bundle,
            timeout=self.timeout,
        )
        with self.bound():
            return self._sign_in.start()

    def wait_for_admin(self, cancelled: Callable[[], bool] = lambda: False) -> Admin:
        if self._sign_in is None:
            raise RuntimeError("start_sign_in() first")
        with self.bound():
            return self._admin(self._sign_in.wait(cancelled))

    def _admin(self, session: AdminSession) -> Admin:
        existing = self.request.existing
        if existing is not None and isinstance(existing.settings, M365Settings):
            tenant = existing.settings.tenant_id
            if tenant.lower() != session.admin.tenant_id.lower():
                raise SignInError(
                    "tenant",
                    f"{session.admin.upn} signed in to tenant {session.admin.tenant_id}, but the connection belongs "
                    f"to tenant {tenant}. Sign in with an admin of that tenant",
                )
        self._session = with_roles(session)
        return self._session.admin

    @property
    def session(self) -> AdminSession:
        if self._session is None:
            raise RuntimeError("the admin has not signed in")
        return self._session

    def prepare(self) -> RegistrationPlan:
        """The dry run: what the tenant holds now under our unique name, and what the run will change."""
        self.refuse_foreign()
        session = self.session
        graph = session.graph()
        try:
            with self.bound():
                existing = survey(graph, self.unique_name)
        except SignInError:
            raise
        except Exception as error:  # noqa: BLE001  (Graph refused, the network failed: said, nothing written)
            raise SignInError(
                "failed", f"Cannot read what the tenant holds (nothing was written): {visible(str(error))}", str(error)
            ) from None
        finally:
            graph.close()
        skip = self.request.existing.id if self.request.existing is not None else None
        self.keep = certificates_on_app(
            self.connections, self.unique_name, session.admin.tenant_id, self.certificate, skip
        )
        keep = [c.thumbprint for c in self.keep]
        if self.current is not None:
            keep.append(self.current.thumbprint)
        self._plan = build_plan(
            existing=existing,
            tenant_id=session.admin.tenant_id,
            admin_upn=session.admin.upn,
            unique_name=self.unique_name,
            keep_thumbprints=tuple(keep),
            new_certificate=self.new_certificate,
        )
        return self._plan

    def run(
        self,
        stage_certificate: Callable[[certificates.LoadedCertificate], object],
        propagation_wait: float = PROPAGATION_WAIT,
        *,
        retire_old: bool = False,
    ) -> RegistrationRun:
        """The registration to hand to a verification, once the admin confirmed the plan. `retire_old`: when
        rotating, remove the old certificate from the app once the new one verified (only for a caller that saves
        the connection right after: otherwise the stored connection would keep a key the app no longer has)."""
        if self._plan is None:
            raise RuntimeError("prepare() the plan and have it confirmed first")
        request = self.request
        return RegistrationRun(
            session=self.session,
            plan=self._plan,
            app_account=request.app_account,
            cloud=request.cloud,
            custom_endpoints=request.custom_endpoints,
            ca_bundle=request.ca_bundle,
            keep=self.keep,
            current=self.current,
            stage_certificate=stage_certificate,
            propagation_wait=propagation_wait,
            retire_old=retire_old,
            sign_in_client_id=request.sign_in_client,
        )

    def provisional(self) -> Connection:
        """The connection as far as it is known before the app exists (what the verification's target holds)."""
        request = self.request
        if request.existing is not None:
            return request.existing
        from datetime import UTC, datetime

        stamp = datetime.now(UTC)
        return Connection(
            id="registration",
            name=request.name or request.app_account.rpartition("@")[2],
            created=stamp,
            updated=stamp,
            settings=M365Settings(
                tenant_id=self._session.admin.tenant_id if self._session else (request.tenant_id or ""),
                client_id="",
                app_account=request.app_account,
                credential=CertificateCredential(thumbprint=""),
                cloud=request.cloud,
                custom_endpoints=request.custom_endpoints,
                ca_bundle=request.ca_bundle,
                registration=Registration.AUTOMATIC,
            ),
        )

    def target(self, home: Home, changes: Changeset, timeout: float | None = None) -> Target:
        return target_for(home, self.provisional(), timeout or self.timeout, staged=changes)

    def connection(self, run: RegistrationRun, stamp: Stamp) -> Connection:
        """The connection to save: the request's fields and the app the run registered, validated like any."""
        s = run.registered_settings()
        if s is None:
            raise RuntimeError("the app is not registered yet")
        name = self.request.name or (self.request.existing.name if self.request.existing else "")
        draft = m365_draft(s, name)  # registered settings: automatic, with their app
        return draft.build(s.credential, stamp, self.request.existing)

    def close(self) -> None:
        """The registrar's work is over: whatever it still has in flight ends now."""
        self._end.expire()
        self._close_sign_in()

    def _close_sign_in(self) -> None:
        if self._sign_in is not None:
            self._sign_in.close()
            self._sign_in = None
