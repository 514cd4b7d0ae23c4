"""What the gate decided about a version: the verdict, the reason and the numbers behind it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Verdict = Literal["PROMOTE", "HOLD", "REJECT"]
PROMOTE: Verdict = "PROMOTE"
HOLD: Verdict = "HOLD"
REJECT: Verdict = "REJECT"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    metric: str
    challenger: float
    champion: float | None = None
    champion_version: str | None = None
    version: str | None = None  # the challenger's registered version, once it exists
    gain_low: float | None = None  # the bootstrap interval of the challenger's gain over the champion
    gain_high: float | None = None

    def as_tags(self) -> dict[str, str]:
        return {f"decision_{k}": "" if v is None else str(v) for k, v in asdict(self).items()}
