"""Who calls the simulated Graph: the claims of a validated token and, for a delegated token, the signed-in user;
and whether they may do something — application permissions (`roles`) for an app-only token, delegated scopes
(`scp`) together with the user's directory roles for a delegated one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .tenant import User


@dataclass(frozen=True, slots=True)
class Caller:
    claims: dict[str, Any]
    user: User | None  # the signed-in user of a delegated token

    @property
    def roles(self) -> set[str]:
        return set(self.claims.get("roles", []))

    @property
    def scopes(self) -> set[str]:
        return set(str(self.claims.get("scp", "")).split())

    @property
    def client(self) -> str:
        return str(self.claims.get("appid", ""))

    def may(self, app_roles: set[str], scopes: set[str], directory_roles: set[str] | None = None) -> bool:
        if self.user is None:
            return bool(self.roles & app_roles)
        if not self.scopes & scopes:
            return False
        return directory_roles is None or bool(set(self.user.roles) & directory_roles)
