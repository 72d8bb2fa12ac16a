"""Microsoft cloud endpoint table: the one place that knows where each national cloud lives."""

from __future__ import annotations

from dataclasses import dataclass

from .model import Cloud, CustomEndpoints, M365Settings

# Microsoft Graph Command Line Tools (the client Microsoft Graph PowerShell signs in with): a Microsoft first-party
# public client present in every tenant of every cloud, allowing the device-code flow and dynamic consent to
# delegated Graph scopes. It signs the admin in for automatic registration unless the connection, the
# `--public-client-id` flag or `WORKBENCH_PUBLIC_CLIENT_ID` names the organisation's own public client. (An open
# source tool has no vendor-registered multi-tenant app; an invented GUID fails everywhere with AADSTS700016.)
GRAPH_COMMAND_LINE_TOOLS_CLIENT_ID = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
GRAPH_COMMAND_LINE_TOOLS_NAME = "Microsoft Graph Command Line Tools"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
EXCHANGE_ONLINE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"


GLOBAL_GRAPH_RESOURCE = "https://graph.microsoft.com"
GLOBAL_EXCHANGE_RESOURCE = "https://outlook.office365.com"


@dataclass(frozen=True, slots=True)
class CloudEndpoints:
    authority_host: str  # https://login...
    graph_url: str  # https://graph...
    ews_url: str  # https://outlook.../EWS/Exchange.asmx
    # Resource identifiers the tokens are asked for. They name the service, not where it is reached: a custom
    # cloud (a proxy, or the lab) stands in for the global one and asks for the global identifiers.
    graph_resource: str = GLOBAL_GRAPH_RESOURCE
    exchange_resource: str = GLOBAL_EXCHANGE_RESOURCE
    # The page Microsoft documents for entering a device code in this cloud ("" for a custom cloud, whose
    # authority is its own).
    device_login: str = ""

    @property
    def graph_scope(self) -> str:
        return f"{self.graph_resource}/.default"

    @property
    def ews_scope(self) -> str:
        return f"{self.exchange_resource}/.default"


BUILT_IN: dict[Cloud, CloudEndpoints] = {
    Cloud.GLOBAL: CloudEndpoints(
        "https://login.microsoftonline.com",
        "https://graph.microsoft.com",
        "https://outlook.office365.com/EWS/Exchange.asmx",
        device_login="https://microsoft.com/devicelogin",
    ),
    Cloud.USGOV_HIGH: CloudEndpoints(
        "https://login.microsoftonline.us",
        "https://graph.microsoft.us",
        "https://outlook.office365.us/EWS/Exchange.asmx",
        "https://graph.microsoft.us",
        "https://outlook.office365.us",
        device_login="https://microsoft.com/deviceloginus",
    ),
    Cloud.USGOV_DOD: CloudEndpoints(
        "https://login.microsoftonline.us",
        "https://dod-graph.microsoft.us",
        "https://outlook-dod.office365.us/EWS/Exchange.asmx",
        "https://dod-graph.microsoft.us",
        "https://outlook-dod.office365.us",
        device_login="https://microsoft.com/deviceloginus",
    ),
    Cloud.CHINA: CloudEndpoints(
        "https://login.partner.microsoftonline.cn",
        "https://microsoftgraph.chinacloudapi.cn",
        "https://partner.outlook.cn/EWS/Exchange.asmx",
        "https://microsoftgraph.chinacloudapi.cn",
        "https://partner.outlook.cn",
        device_login="https://microsoft.com/deviceloginchina",
    ),
}

# The hosts of Microsoft's sign-in pages in every cloud: the device-login pages on microsoft.com, and the
# authorities themselves (whose older device-code endpoint answers with a page of their own). A Microsoft cloud's
# authority that sends the admin anywhere else is doubted before the admin types a code there.
SIGN_IN_PAGE_HOSTS = frozenset(
    {
        "microsoft.com",
        "www.microsoft.com",
        "login.microsoft.com",
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.partner.microsoftonline.cn",
        "login.chinacloudapi.cn",
    }
)


def microsoft_cloud_of(authority_host: str) -> CloudEndpoints | None:
    """The built-in cloud whose authority this is (a custom cloud naming Microsoft's authority counts too)."""
    wanted = authority_host.rstrip("/").lower()
    return next((e for e in BUILT_IN.values() if e.authority_host == wanted), None)


def endpoints_of(cloud: Cloud, custom: CustomEndpoints | None = None) -> CloudEndpoints:
    if cloud is Cloud.CUSTOM:
        if custom is None:
            raise ValueError("a custom cloud needs custom endpoints")
        return CloudEndpoints(custom.authority_host, custom.graph_url, custom.ews_url)
    return BUILT_IN[cloud]


def endpoints_for(settings: M365Settings) -> CloudEndpoints:
    return endpoints_of(settings.cloud, settings.custom_endpoints)


# Microsoft Graph PowerShell's name for each cloud (`Connect-MgGraph -Environment`); a custom cloud stands in
# for the global one.
GRAPH_POWERSHELL_ENVIRONMENTS = {
    Cloud.GLOBAL: "Global",
    Cloud.USGOV_HIGH: "USGov",
    Cloud.USGOV_DOD: "USGovDoD",
    Cloud.CHINA: "China",
    Cloud.CUSTOM: "Global",
}
