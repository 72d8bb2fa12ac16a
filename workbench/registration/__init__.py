"""Automatic registration: a device-code admin sign-in, a role check, a dry-run plan, then the app, its
certificate, its service principal and its permissions created or updated in Entra ID through Graph, streamed as
checks of the verification engine and followed by the Exchange Online checks on the new app.

    signin.DeviceSignIn -> signin.with_roles -> plan.survey / plan.build_plan -> apply.RegistrationRun + apply.plan
    cleanup.delete_application when a connection is removed
"""

from __future__ import annotations

from .apply import Ledger, RegistrationRun
from .apply import plan as registration_checks
from .cleanup import delete_application, removal_command, removal_instructions
from .flow import Registrar, RegistrationRequest
from .permissions import PERMISSIONS, Permission
from .plan import ExistingApp, RegistrationPlan, build_plan, survey, unique_name_for
from .signin import (
    Admin,
    AdminSession,
    DeviceCode,
    DeviceSignIn,
    SignInClient,
    SignInError,
    public_client_id,
    sign_in_client,
    with_roles,
)

__all__ = [
    "PERMISSIONS",
    "Admin",
    "AdminSession",
    "DeviceCode",
    "DeviceSignIn",
    "ExistingApp",
    "Ledger",
    "Permission",
    "Registrar",
    "RegistrationPlan",
    "RegistrationRequest",
    "RegistrationRun",
    "SignInClient",
    "SignInError",
    "build_plan",
    "delete_application",
    "public_client_id",
    "registration_checks",
    "removal_command",
    "removal_instructions",
    "sign_in_client",
    "survey",
    "unique_name_for",
    "with_roles",
]
