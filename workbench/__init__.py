"""Exchange Connection Workbench: define, verify and troubleshoot Microsoft 365 and on-premises Exchange
connections from a terminal.

Importing the package is cheap; the heavy parts (Textual, MSAL, exchangelib, pypsrp) load only when used.
"""

__version__ = "0.1.0"
