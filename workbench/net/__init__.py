"""Thin, typed adapters over the real client libraries: identity (MSAL), Graph (httpx), EWS (exchangelib),
autodiscover, remote PowerShell (pypsrp), DNS and TLS. Every call has a timeout; no secret reaches a log."""
