"""The fault matrix (issue 14): each fault tried several times against a running app, with what
happened to the calls and the money.

Scenario modules in this package expose ``run(options) -> list[FaultRow]``; ``python -m bench.faults``
runs them all and prints one table. The bar: 0 lost and 0 double charges, every refusal within the
admission deadline plus 0.5 s, /healthz within 100 ms throughout, admission p99 during an admin
flood within 1.5x of a quiet run."""
from __future__ import annotations

from dataclasses import dataclass, field

# the bar the matrix is judged by (issue 14)
REFUSAL_MARGIN_S = 0.5
HEALTHZ_BAR_MS = 100.0
FLOOD_P99_RATIO_BAR = 1.5


@dataclass
class FaultRow:
    fault: str                      # what was done, e.g. "SQLite write lock held 35 s"
    tries: int                      # how many times the fault was injected
    calls_placed: int = 0
    calls_charged: int = 0          # answered calls that reached the ledger exactly once
    lost_charges: int = 0           # answered calls with no charge
    double_charges: int = 0         # calls charged more than once (or a phantom leg charged)
    refusals: int = 0               # calls refused (POLICY_UNAVAILABLE or a rule)
    refusal_max_s: float | None = None   # slowest refusal, socket connect to hangup
    deadline_s: float | None = None      # the admission deadline in force
    healthz_max_ms: float | None = None  # slowest /healthz answer while the fault lasted
    notes: list[str] = field(default_factory=list)

    def failures(self) -> list[str]:
        """What this row misses of the bar, in words (empty when it meets it)."""
        missed = []
        if self.lost_charges:
            missed.append(f"{self.lost_charges} lost charge(s)")
        if self.double_charges:
            missed.append(f"{self.double_charges} double charge(s)")
        if self.refusal_max_s is not None and self.deadline_s is not None \
                and self.refusal_max_s > self.deadline_s + REFUSAL_MARGIN_S:
            missed.append(f"refusal took {self.refusal_max_s:.2f} s > deadline {self.deadline_s:.1f} s + {REFUSAL_MARGIN_S} s")
        if self.healthz_max_ms is not None and self.healthz_max_ms > HEALTHZ_BAR_MS:
            missed.append(f"/healthz took {self.healthz_max_ms:.0f} ms > {HEALTHZ_BAR_MS:.0f} ms")
        return missed
