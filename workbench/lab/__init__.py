"""The lab: a simulated Microsoft 365 tenant on loopback TLS, for tests, benchmarks and the demo.

Nothing here contacts a Microsoft host; every server binds 127.0.0.1.
"""

from .lab import Lab, LabState, M365State
from .scenarios import SCENARIOS, Scenario, UnknownScenario

__all__ = ["SCENARIOS", "Lab", "LabState", "M365State", "Scenario", "UnknownScenario"]
