"""The simulated on-premises Exchange organisation: recipients, role groups, RBAC role assignments, virtual
directories and the server itself. EWS, autodiscover and remote PowerShell share one instance, so a role
assignment made through PowerShell changes what EWS allows, as it does on a real server."""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass, field
from enum import StrEnum

ORGANIZATION_MANAGEMENT = "Organization Management"
RECIPIENT_MANAGEMENT = "Recipient Management"
IMPERSONATION = "ApplicationImpersonation"
ROLE_MANAGEMENT = "Role Management"


@dataclass
class Recipient:
    upn: str
    alias: str
    display_name: str
    password: str | None = None
    has_mailbox: bool = True
    recipient_type: str = "UserMailbox"  # RecipientTypeDetails
    database: str = "DB01"
    guid: str = ""

    @property
    def name(self) -> str:
        return self.display_name


@dataclass
class RoleAssignment:
    name: str
    role: str
    assignee: str  # a role group name or a user's UPN
    assignee_type: str  # "RoleGroup" or "User"
    delegating: bool = False
    guid: str = ""


@dataclass
class VirtualDirectory:
    """The PowerShell virtual directory's authentication. Exchange's default ("Default settings for Exchange virtual
    directories"): every IIS method off; Exchange's own module accepts Kerberos inside Negotiate. An admin may turn on
    Basic (what a server reached by IP address needs) or Windows authentication (which lets NTLM in)."""

    basic: bool = False
    windows: bool = False


class ExtendedProtection(StrEnum):
    """A virtual directory's ExtendedProtectionTokenChecking: Off (no check), Accept (a channel binding the client
    sends must match; none is fine), Require (the client must send the matching one)."""

    OFF = "None"
    ACCEPT = "Allow"
    REQUIRE = "Require"


# What Exchange Server 2019 CU14 and later set on the front end (Default Web Site) when they enable Extended
# Protection ("Configure Windows Extended Protection in Exchange Server"): EWS accepts, Autodiscover does not
# check, PowerShell requires.
CU14_EXTENDED_PROTECTION = {
    "autodiscover": ExtendedProtection.OFF,
    "ews": ExtendedProtection.ACCEPT,
    "powershell": ExtendedProtection.REQUIRE,
}


@dataclass
class Organization:
    domain: str
    netbios: str
    accepted_domains: list[str]
    server_name: str
    rng: random.Random
    recipients: dict[str, Recipient] = field(default_factory=dict)  # by lower-case UPN
    role_groups: dict[str, list[str]] = field(default_factory=dict)  # group -> member UPNs
    assignments: list[RoleAssignment] = field(default_factory=list)
    powershell_vdir: VirtualDirectory = field(default_factory=VirtualDirectory)
    ews_schemes: tuple[str, ...] = ("NTLM", "Negotiate", "Basic")
    extended_protection: dict[str, ExtendedProtection] = field(default_factory=lambda: dict(CU14_EXTENDED_PROTECTION))
    lock: threading.RLock = field(default_factory=threading.RLock)
    grant_denied: bool = False
    build: tuple[int, int, int, int] = (15, 2, 1748, 10)  # Exchange Server 2019 CU15

    @property
    def fqdn(self) -> str:
        return f"{self.server_name.lower()}.{self.domain}"

    @property
    def realm(self) -> str:
        """Active Directory's Kerberos realm: the domain in capitals."""
        return self.domain.upper()

    @property
    def version_text(self) -> str:
        major, minor, build, revision = self.build
        return f"Version {major}.{minor} (Build {build}.{revision})"

    def new_guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def recipient(self, identity: str) -> Recipient | None:
        """By UPN, primary address, alias, display name or DOMAIN\\alias, as Exchange's -Identity accepts."""
        key = identity.strip().lower()
        if "\\" in key:
            key = key.split("\\", 1)[1]
        found = self.recipients.get(key)
        if found is not None:
            return found
        return next(
            (r for r in self.recipients.values() if key in {r.alias.lower(), r.display_name.lower(), r.guid}), None
        )

    def groups_of(self, upn: str) -> list[str]:
        return [group for group, members in self.role_groups.items() if upn.lower() in members]

    def effective(self, upn: str) -> list[RoleAssignment]:
        """Assignments that apply to a user: direct ones and those of the role groups the user is in."""
        groups = set(self.groups_of(upn))
        return [
            a
            for a in self.assignments
            if (a.assignee_type == "User" and a.assignee.lower() == upn.lower())
            or (a.assignee_type == "RoleGroup" and a.assignee in groups)
        ]

    def may_impersonate(self, upn: str) -> bool:
        return any(a.role == IMPERSONATION and not a.delegating for a in self.effective(upn))

    def may_delegate(self, upn: str, role: str) -> bool:
        return not self.grant_denied and any(a.role == role and a.delegating for a in self.effective(upn))

    def add_assignment(self, name: str, role: str, user: str) -> RoleAssignment:
        assignment = RoleAssignment(name, role, user.lower(), "User", guid=self.new_guid())
        self.assignments.append(assignment)
        return assignment


def seed_organization(
    *, rng: random.Random, mailboxes: int, scenarios: frozenset[str]
) -> tuple[Organization, dict[str, str]]:
    domain = "fabrikam.test"
    org = Organization(
        domain=domain,
        netbios="FABRIKAM",
        accepted_domains=[domain, "fabrikam-mail.test"],
        server_name="EXCH01",
        rng=rng,
    )

    def add(local: str, name: str, **kwargs: object) -> Recipient:
        recipient = Recipient(upn=f"{local}@{domain}", alias=local, display_name=name, guid=org.new_guid(), **kwargs)  # type: ignore[arg-type]
        org.recipients[recipient.upn.lower()] = recipient
        return recipient

    admin_password = f"Fabrikam-{rng.getrandbits(40):010x}!"
    admin = add(
        "administrator", "Administrator", password=admin_password, has_mailbox="admin-no-mailbox" not in scenarios
    )
    if not admin.has_mailbox:
        admin.recipient_type = "User"
    second = add("exadmin", "Exchange Admin", password=f"Second-{rng.getrandbits(40):010x}!")
    helpdesk = add("helpdesk", "Help Desk", password=f"Help-{rng.getrandbits(40):010x}!")
    for n in range(1, mailboxes + 1):
        add(f"user{n:05d}", f"User {n:05d}", database=f"DB0{1 + n % 2}")
    for n in (1, 2):
        add(f"pfmailbox{n}", f"PF Mailbox {n}", recipient_type="PublicFolderMailbox", database="DB01")
    add("shared.info", "Info (shared)", recipient_type="SharedMailbox")

    org.role_groups[ORGANIZATION_MANAGEMENT] = [admin.upn, second.upn]
    org.role_groups[RECIPIENT_MANAGEMENT] = [helpdesk.upn]
    for role in (IMPERSONATION, ROLE_MANAGEMENT, "Mail Recipients"):
        org.assignments.append(
            RoleAssignment(
                f"{role}-{ORGANIZATION_MANAGEMENT}-Delegating",
                role,
                ORGANIZATION_MANAGEMENT,
                "RoleGroup",
                True,
                org.new_guid(),
            )
        )
    org.assignments.append(
        RoleAssignment(
            f"{ROLE_MANAGEMENT}-{ORGANIZATION_MANAGEMENT}",
            ROLE_MANAGEMENT,
            ORGANIZATION_MANAGEMENT,
            "RoleGroup",
            False,
            org.new_guid(),
        )
    )
    org.assignments.append(
        RoleAssignment(
            "Mail Recipients-Recipient Management",
            "Mail Recipients",
            RECIPIENT_MANAGEMENT,
            "RoleGroup",
            False,
            org.new_guid(),
        )
    )
    if not {"no-impersonation", "grant-denied"} & scenarios:
        org.add_assignment(f"{IMPERSONATION}-{admin.alias}", IMPERSONATION, admin.upn)
    if "grant-denied" in scenarios:
        org.grant_denied = True
    if "ps-basic-enabled" in scenarios:
        org.powershell_vdir.basic = True
    if "ps-windows-auth" in scenarios:
        org.powershell_vdir.windows = True
    if "negotiate-only" in scenarios:
        org.ews_schemes = ("Negotiate",)
    if "extended-protection-strict" in scenarios:
        org.extended_protection = dict.fromkeys(CU14_EXTENDED_PROTECTION, ExtendedProtection.REQUIRE)
    accounts = {"admin": admin.upn, "admin_password": admin_password}
    return org, accounts
