"""The application permissions automatic registration asks for, each with the reason an admin is shown.

Role ids are never written down here: each run looks them up by value on the resource's service principal in the
tenant (`appRoles[].value` -> `id`), as Microsoft publishes them there.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.clouds import EXCHANGE_ONLINE_APP_ID, GRAPH_APP_ID


@dataclass(frozen=True, slots=True)
class Permission:
    resource: str  # the API's display name
    resource_app_id: str
    value: str  # the application permission (app role) as the API names it
    reason: str

    @property
    def label(self) -> str:
        return f"{self.resource} {self.value}"


PERMISSIONS: tuple[Permission, ...] = (
    Permission(
        "Microsoft Graph",
        GRAPH_APP_ID,
        "User.Read.All",
        "find the mailboxes to back up and the dedicated application account",
    ),
    Permission(
        "Microsoft Graph",
        GRAPH_APP_ID,
        "Organization.Read.All",
        "read the tenant's name and domains (names the connection)",
    ),
    Permission(
        "Microsoft Graph",
        GRAPH_APP_ID,
        "Mail.ReadWrite",
        "read and restore mail items through Graph",
    ),
    Permission(
        "Office 365 Exchange Online",
        EXCHANGE_ONLINE_APP_ID,
        "full_access_as_app",
        "open every mailbox and public folder through EWS (backup and restore)",
    ),
)

RESOURCES: dict[str, str] = {p.resource_app_id: p.resource for p in PERMISSIONS}

# Delegated permissions the admin's sign-in asks for: create and update the app, grant its permissions, and read
# the signed-in admin's directory roles. (ReadWrite implies Read.)
#
# RoleManagement.Read.Directory: /me/transitiveMemberOf itself needs only User.Read, but Graph returns each member
# object the token may not read with `@odata.type` and `id` only ("limited information returned for inaccessible
# member objects"), so without it every directory role comes back nameless and without roleTemplateId. Graph's
# "List directoryRoles" and "Get directoryRole" name RoleManagement.Read.Directory as the least privileged
# delegated permission that reads directory roles; Directory.Read.All also would, but reads the whole directory
# (users, groups, devices...), which the registration does not need.
ROLE_READ_SCOPE = "RoleManagement.Read.Directory"
ADMIN_SCOPES: tuple[str, ...] = (
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    ROLE_READ_SCOPE,
    "User.Read",
)

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
PRIVILEGED_ROLE_ADMINISTRATOR = "e8611ab8-c189-46e8-94e1-60213ab1f814"
REGISTERING_ROLES: dict[str, str] = {
    GLOBAL_ADMINISTRATOR: "Global Administrator",
    PRIVILEGED_ROLE_ADMINISTRATOR: "Privileged Role Administrator",
}
# Who may create an application when the tenant's "Users can register applications" is No.
APP_CREATOR_ROLES: tuple[str, ...] = (
    "Global Administrator",
    "Application Administrator",
    "Cloud Application Administrator",
    "Application Developer",
)
PIM_ACTIVATE = (
    "Microsoft Entra admin center > Identity governance > Privileged Identity Management > My roles > Activate"
)
