"""The Exchange cmdlets the lab's remote PowerShell answers, producing what Exchange produces: deserialized
objects with adapted properties, errors on the error stream with Exchange's FullyQualifiedErrorId shape, the
ResultSize warning. Each cmdlet is a generator, so a large Get-Mailbox is produced only as fast as it is read."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from psrpcore.types import PSCryptoProvider, PSNoteProperty, PSObject, PSPropertyInfo, PSType, serialize

from .org import IMPERSONATION, Organization, Recipient, RoleAssignment

DEFAULT_RESULT_SIZE = 1000
RESULT_SIZE_WARNING = (
    "By default, only the first 1000 items are returned. Use the ResultSize parameter to specify the number of items "
    'returned. To return all items, specify "-ResultSize Unlimited". Be aware that, depending on the actual number of '
    "items, returning all items can take a long time and consume a large amount of memory. Also, we don't recommend "
    "storing the results in a variable. Instead, pipe the results to another task or script to perform batch changes."
)


def _types(*names: str) -> list[str]:
    return [f"Deserialized.{name}" for name in (*names, "System.Object")]


def _props(*names: str) -> list[PSPropertyInfo]:
    return [PSNoteProperty(name) for name in names]


_DIR = "Microsoft.Exchange.Data.Directory"


@PSType(
    _types(f"{_DIR}.Management.Mailbox", f"{_DIR}.Management.MailEnabledOrgPerson", f"{_DIR}.ADPresentationObject"),
    adapted_properties=_props(
        "Name",
        "Alias",
        "DisplayName",
        "PrimarySmtpAddress",
        "UserPrincipalName",
        "RecipientTypeDetails",
        "Database",
        "ServerName",
        "ExchangeGuid",
        "Guid",
        "EmailAddresses",
        "IsMailboxEnabled",
        "OrganizationalUnit",
    ),
    skip_inheritance=True,
    rehydrate=False,
)
class Mailbox(PSObject):
    pass


@PSType(
    _types(f"{_DIR}.Management.User", f"{_DIR}.ADPresentationObject"),
    adapted_properties=_props(
        "Name", "DisplayName", "UserPrincipalName", "RecipientTypeDetails", "WindowsEmailAddress", "Guid"
    ),
    skip_inheritance=True,
    rehydrate=False,
)
class User(PSObject):
    pass


@PSType(
    _types(f"{_DIR}.Management.ReducedRecipient"),
    adapted_properties=_props(
        "Name", "DisplayName", "PrimarySmtpAddress", "RecipientType", "RecipientTypeDetails", "Guid"
    ),
    skip_inheritance=True,
    rehydrate=False,
)
class ReducedRecipient(PSObject):
    pass


@PSType(
    _types("Microsoft.Exchange.Management.RbacTasks.ExchangeRoleAssignmentPresentation"),
    adapted_properties=_props(
        "Name",
        "Role",
        "RoleAssigneeName",
        "RoleAssigneeType",
        "AssignmentMethod",
        "RoleAssignmentDelegationType",
        "EffectiveUserName",
        "RecipientWriteScope",
        "CustomRecipientWriteScope",
        "Enabled",
        "Guid",
    ),
    skip_inheritance=True,
    rehydrate=False,
)
class RoleAssignmentObject(PSObject):
    pass


@PSType(
    _types(f"{_DIR}.SystemConfiguration.AcceptedDomain"),
    adapted_properties=_props("Name", "DomainName", "DomainType", "Default"),
    skip_inheritance=True,
    rehydrate=False,
)
class AcceptedDomain(PSObject):
    pass


@PSType(
    _types(f"{_DIR}.SystemConfiguration.ADPowerShellVirtualDirectory"),
    adapted_properties=_props(
        "Name",
        "Server",
        "BasicAuthentication",
        "WindowsAuthentication",
        "CertificateAuthentication",
        "InternalUrl",
        "ExternalUrl",
    ),
    skip_inheritance=True,
    rehydrate=False,
)
class PowerShellVirtualDirectory(PSObject):
    pass


@PSType(
    _types(f"{_DIR}.Management.ExchangeServer"),
    adapted_properties=_props(
        "Name", "Fqdn", "Domain", "Edition", "ServerRole", "AdminDisplayVersion", "IsMailboxServer"
    ),
    skip_inheritance=True,
    rehydrate=False,
)
class ExchangeServer(PSObject):
    pass


# ---------------------------------------------------------------- results


@dataclass
class Output:
    value: PSObject


@dataclass
class RawOutput:
    """An output object already serialised to CLIXML (see `ObjectTemplate`)."""

    clixml: bytes


@dataclass
class Warning:
    text: str


@dataclass
class Error:
    """A non-terminating error on the error stream (the pipeline still completes)."""

    message: str
    exception: str  # .NET exception type
    category: str  # ErrorCategory name
    failure: str  # Exchange's FailureCategory
    cmdlet_class: str
    target: str | None = None


@dataclass
class Failure:
    """A terminating error: the pipeline ends Failed."""

    message: str
    exception: str
    category: str
    error_id: str


Item = Output | RawOutput | Warning | Error | Failure


@dataclass
class Invocation:
    org: Organization
    caller: Recipient
    name: str
    params: dict[str, Any] = field(default_factory=dict)  # lower-case names; positional -> "identity"

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name.lower(), default)


def exchange_error_id(org: Organization, failure: str, cmdlet_class: str) -> str:
    stamp = datetime.now(UTC).strftime("%m/%d/%Y %I:%M:%S %p")
    return (
        f"[Server={org.server_name},RequestId={uuid.uuid4()},TimeStamp={stamp}] "
        f"[FailureCategory=Cmdlet-{failure}] {uuid.uuid4().hex[:8].upper()},{cmdlet_class}"
    )


def _not_found(org: Organization, identity: str, cmdlet_class: str) -> Error:
    return Error(
        f"The operation couldn't be performed because object '{identity}' couldn't be found on 'dc01.{org.domain}'.",
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
        "NotSpecified",
        "ManagementObjectNotFoundException",
        cmdlet_class,
        identity,
    )


_SAFE = re.compile(r"[A-Za-z0-9 .@:+()'/,=-]*")


class ObjectTemplate:
    """CLIXML for many objects of one shape, at string-formatting speed.

    psrpcore's general serialiser (object -> ElementTree -> text) manages about 1,500 mailboxes a second, which
    would make the lab, not the client, the bottleneck of a 50,000-mailbox enumeration. So one prototype whose
    string values are unique tokens goes through psrpcore once; each object is then that text with the tokens
    replaced by XML-escaped values. Values outside a plain character set (anything psrpcore would encode as
    `_xHHHH_`) return None, and the caller uses the general serialiser instead.
    """

    def __init__(self, build: Callable[[Callable[[str], str]], PSObject]) -> None:
        self._fields: list[str] = []

        def token(name: str) -> str:
            self._fields.append(name)
            return f"LABTOKEN{len(self._fields) - 1}Q"

        prototype = build(token)
        text = ElementTree.tostring(serialize(prototype, PSCryptoProvider()), encoding="unicode")
        self._format = re.sub(
            r"LABTOKEN(\d+)Q", lambda m: "{" + m.group(1) + "}", text.replace("{", "{{").replace("}", "}}")
        )

    def render(self, values: dict[str, str]) -> bytes | None:
        ordered = []
        for name in self._fields:
            value = values[name]
            if not _SAFE.fullmatch(value) or "_x" in value.lower():
                return None
            ordered.append(escape(value))
        return self._format.format(*ordered).encode("utf-8")


def _mailbox_values(org: Organization, r: Recipient) -> dict[str, str]:
    return {
        "alias": r.alias,
        "display": r.display_name,
        "upn": r.upn,
        "type": r.recipient_type,
        "database": r.database,
        "server": org.server_name.lower(),
        "guid": r.guid,
        "primary": f"SMTP:{r.upn}",
        "secondary": f"smtp:{r.alias}@{org.accepted_domains[-1]}",
        "ou": f"{org.domain}/Users",
    }


def _mailbox_from(v: Callable[[str], str]) -> Mailbox:
    return Mailbox(
        Name=v("alias"),
        Alias=v("alias"),
        DisplayName=v("display"),
        PrimarySmtpAddress=v("upn"),
        UserPrincipalName=v("upn"),
        RecipientTypeDetails=v("type"),
        Database=v("database"),
        ServerName=v("server"),
        ExchangeGuid=v("guid"),
        Guid=v("guid"),
        EmailAddresses=[v("primary"), v("secondary")],
        IsMailboxEnabled=True,
        OrganizationalUnit=v("ou"),
    )


_MAILBOX_TEMPLATE: ObjectTemplate | None = None


def mailbox_output(org: Organization, r: Recipient) -> Output | RawOutput:
    global _MAILBOX_TEMPLATE
    if _MAILBOX_TEMPLATE is None:
        _MAILBOX_TEMPLATE = ObjectTemplate(_mailbox_from)
    values = _mailbox_values(org, r)
    raw = _MAILBOX_TEMPLATE.render(values)
    return RawOutput(raw) if raw is not None else Output(_mailbox_from(values.__getitem__))


def _result_size(invocation: Invocation) -> int | Failure | None:
    raw = invocation.get("resultsize")
    if raw is None:
        return DEFAULT_RESULT_SIZE
    if isinstance(raw, str) and raw.lower() == "unlimited":
        return None
    try:
        size = int(raw)
    except (TypeError, ValueError):
        return Failure(
            f"Cannot process argument transformation on parameter 'ResultSize'. Cannot convert value \"{raw}\" to type "
            '"Microsoft.Exchange.Data.Unlimited`1[System.UInt32]".',
            "System.Management.Automation.ParameterBindingArgumentTransformationException",
            "InvalidData",
            "ParameterArgumentTransformationError,Get-Mailbox",
        )
    return size


def get_mailbox(invocation: Invocation) -> Iterator[Item]:
    org = invocation.org
    cmdlet_class = "Microsoft.Exchange.Management.RecipientTasks.GetMailbox"
    identity = invocation.get("identity")
    if identity is not None:
        found = org.recipient(str(identity))
        if found is None or not found.has_mailbox:
            yield _not_found(org, str(identity), cmdlet_class)
            return
        yield mailbox_output(org, found)
        return
    size = _result_size(invocation)
    if isinstance(size, Failure):
        yield size
        return
    public_folders = bool(invocation.get("publicfolder", False))
    wanted_types = invocation.get("recipienttypedetails")
    if isinstance(wanted_types, str):
        wanted_types = [t.strip() for t in wanted_types.split(",")]
    with org.lock:
        candidates = [r for r in org.recipients.values() if r.has_mailbox]
    count = 0
    for recipient in candidates:
        is_pf = recipient.recipient_type == "PublicFolderMailbox"
        if is_pf != public_folders:
            continue
        if wanted_types and recipient.recipient_type not in wanted_types:
            continue
        if size is not None and count >= size:
            yield Warning(
                RESULT_SIZE_WARNING
                if size == DEFAULT_RESULT_SIZE
                else "There are more results available than are currently displayed. To view them, increase the "
                "value for the ResultSize parameter."
            )
            return
        count += 1
        yield mailbox_output(org, recipient)


def _assignment(a: RoleAssignment, effective_user: str | None = None) -> RoleAssignmentObject:
    return RoleAssignmentObject(
        Name=a.name,
        Role=a.role,
        RoleAssigneeName=a.assignee.split("@")[0] if a.assignee_type == "User" else a.assignee,
        RoleAssigneeType=a.assignee_type,
        AssignmentMethod="Direct",
        RoleAssignmentDelegationType="DelegatingOrgWide" if a.delegating else "Regular",
        EffectiveUserName=effective_user or "All Group Members",
        RecipientWriteScope="Organization",
        CustomRecipientWriteScope=None,
        Enabled=True,
        Guid=a.guid,
    )


def _bool_param(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() in {"$true", "true", "1"}
    return bool(value)


def get_management_role_assignment(invocation: Invocation) -> Iterator[Item]:
    org = invocation.org
    role = invocation.get("role")
    assignee = invocation.get("roleassignee")
    delegating = _bool_param(invocation.get("delegating"))
    effective = bool(invocation.get("geteffectiveusers", False))
    with org.lock:
        if assignee is not None:
            user = org.recipient(str(assignee))
            if user is None:
                yield _not_found(
                    org, str(assignee), "Microsoft.Exchange.Management.RbacTasks.GetManagementRoleAssignment"
                )
                return
            candidates = org.effective(user.upn)
        else:
            candidates = list(org.assignments)
        for assignment in candidates:
            if role is not None and assignment.role.lower() != str(role).lower():
                continue
            if delegating is not None and assignment.delegating != delegating:
                continue
            if effective and assignment.assignee_type == "RoleGroup":
                for member in org.role_groups.get(assignment.assignee, []):
                    yield Output(_assignment(assignment, member.split("@")[0]))
            else:
                yield Output(_assignment(assignment))


def new_management_role_assignment(invocation: Invocation) -> Iterator[Item]:
    org = invocation.org
    cmdlet_class = "Microsoft.Exchange.Management.RbacTasks.NewManagementRoleAssignment"
    role = str(invocation.get("role") or "")
    user_identity = invocation.get("user")
    name = str(invocation.get("name") or f"{role}-{user_identity}")
    if not role or user_identity is None:
        yield Failure(
            "Parameter set cannot be resolved using the specified named parameters.",
            "System.Management.Automation.ParameterBindingException",
            "InvalidArgument",
            "AmbiguousParameterSet,New-ManagementRoleAssignment",
        )
        return
    with org.lock:
        user = org.recipient(str(user_identity))
        if user is None:
            yield _not_found(org, str(user_identity), cmdlet_class)
            return
        if not org.may_delegate(invocation.caller.upn, role):
            yield Error(
                f'The user "{invocation.caller.display_name}" doesn\'t have a delegating role assignment for the '
                f'"{role}" role, so the role assignment can\'t be created.',
                "Microsoft.Exchange.Configuration.Tasks.TaskException",
                "PermissionDenied",
                "TaskException",
                cmdlet_class,
                name,
            )
            return
        if any(a.name.lower() == name.lower() for a in org.assignments):
            yield Error(
                f'The role assignment "{name}" already exists.',
                "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
                "ResourceExists",
                "ADObjectAlreadyExistsException",
                cmdlet_class,
                name,
            )
            return
        if len(name) > 64:
            yield Failure(
                f"Cannot validate argument on parameter 'Name'. The length of the property is too long. The maximum "
                f"length is 64 and the length of the value provided is {len(name)}.",
                "System.Management.Automation.ParameterBindingValidationException",
                "InvalidData",
                "ParameterArgumentValidationError,New-ManagementRoleAssignment",
            )
            return
        assignment = org.add_assignment(name, role, user.upn)
    yield Output(_assignment(assignment))


def get_role_group_member(invocation: Invocation) -> Iterator[Item]:
    org = invocation.org
    identity = str(invocation.get("identity") or "")
    members = next((m for g, m in org.role_groups.items() if g.lower() == identity.lower()), None)
    if members is None:
        yield _not_found(org, identity, "Microsoft.Exchange.Management.RbacTasks.GetRoleGroupMember")
        return
    for upn in members:
        r = org.recipients[upn.lower()]
        yield Output(
            ReducedRecipient(
                Name=r.alias,
                DisplayName=r.display_name,
                PrimarySmtpAddress=r.upn if r.has_mailbox else "",
                RecipientType="UserMailbox" if r.has_mailbox else "User",
                RecipientTypeDetails=r.recipient_type,
                Guid=r.guid,
            )
        )


def get_user(invocation: Invocation) -> Iterator[Item]:
    org = invocation.org
    identity = invocation.get("identity")
    recipients = [org.recipient(str(identity))] if identity is not None else list(org.recipients.values())
    if identity is not None and recipients[0] is None:
        yield _not_found(org, str(identity), "Microsoft.Exchange.Management.RecipientTasks.GetUser")
        return
    for r in recipients:
        assert r is not None
        yield Output(
            User(
                Name=r.alias,
                DisplayName=r.display_name,
                UserPrincipalName=r.upn,
                RecipientTypeDetails=r.recipient_type,
                WindowsEmailAddress=r.upn if r.has_mailbox else "",
                Guid=r.guid,
            )
        )


def get_accepted_domain(invocation: Invocation) -> Iterator[Item]:
    for index, domain in enumerate(invocation.org.accepted_domains):
        yield Output(AcceptedDomain(Name=domain, DomainName=domain, DomainType="Authoritative", Default=index == 0))


def get_powershell_virtual_directory(invocation: Invocation) -> Iterator[Item]:
    org = invocation.org
    vdir = org.powershell_vdir
    yield Output(
        PowerShellVirtualDirectory(
            Name="PowerShell (Default Web Site)",
            Server=org.server_name,
            BasicAuthentication=vdir.basic,
            WindowsAuthentication=vdir.windows,
            CertificateAuthentication=False,
            InternalUrl=f"http://{org.fqdn}/powershell",
            ExternalUrl=None,
        )
    )


def get_exchange_server(invocation: Invocation) -> Iterator[Item]:
    org = invocation.org
    yield Output(
        ExchangeServer(
            Name=org.server_name,
            Fqdn=org.fqdn,
            Domain=org.domain,
            Edition="Enterprise",
            ServerRole="Mailbox",
            AdminDisplayVersion=org.version_text,
            IsMailboxServer=True,
        )
    )


CMDLETS: dict[str, Callable[[Invocation], Iterator[Item]]] = {
    "get-mailbox": get_mailbox,
    "get-managementroleassignment": get_management_role_assignment,
    "new-managementroleassignment": new_management_role_assignment,
    "get-rolegroupmember": get_role_group_member,
    "get-user": get_user,
    "get-accepteddomain": get_accepted_domain,
    "get-powershellvirtualdirectory": get_powershell_virtual_directory,
    "get-exchangeserver": get_exchange_server,
}


def not_recognized(name: str) -> Failure:
    return Failure(
        f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable program. "
        "Check the spelling of the name, or if a path was included, verify that the path is correct and try again.",
        "System.Management.Automation.CommandNotFoundException",
        "ObjectNotFound",
        "CommandNotFoundException",
    )


NO_LANGUAGE = Failure(
    "The syntax is not supported by this runspace. This can occur if the runspace is in no-language mode.",
    "System.Management.Automation.ParseException",
    "ParserError",
    "ScriptsNotAllowed",
)

__all__ = [
    "CMDLETS",
    "IMPERSONATION",
    "NO_LANGUAGE",
    "Error",
    "Failure",
    "Invocation",
    "Item",
    "Output",
    "Warning",
    "exchange_error_id",
    "not_recognized",
]
