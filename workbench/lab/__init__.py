"""The lab: a simulated Microsoft 365 tenant and on-premises Exchange organisation on loopback TLS, for tests,
benchmarks and the demo.

Nothing here contacts a Microsoft host; every server binds 127.0.0.1.
"""

from .lab import Lab, LabState, M365State, OnPremState
from .scenarios import SCENARIOS, Scenario, UnknownScenario

__all__ = ["SCENARIOS", "Lab", "LabState", "M365State", "OnPremState", "Scenario", "UnknownScenario"]
