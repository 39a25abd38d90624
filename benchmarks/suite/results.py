"""What a run measured: samples, results per contender, verdicts."""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path


@dataclass
class Sample:
    """One timed process run."""

    wall_s: float
    peak_rss_mib: float  # largest single process (ru_maxrss)
    tree_rss_mib: float  # largest sampled sum over the process tree
    requests: dict[str, int] = field(default_factory=dict)  # API requests by endpoint
    values: dict[str, int] = field(default_factory=dict)  # values served, by endpoint


@dataclass
class Result:
    """One contender in one scenario: the runs and how they are summarised."""

    name: str
    rows: int
    timed: str  # what the clock covers
    samples: list[Sample] = field(default_factory=list)
    skipped: str | None = None

    @property
    def wall_s(self) -> float | None:
        return statistics.median(s.wall_s for s in self.samples) if self.samples else None

    @property
    def rows_per_s(self) -> float | None:
        wall = self.wall_s
        return self.rows / wall if wall else None

    @property
    def peak_rss_mib(self) -> float | None:
        return max(s.peak_rss_mib for s in self.samples) if self.samples else None

    @property
    def tree_rss_mib(self) -> float | None:
        return max(s.tree_rss_mib for s in self.samples) if self.samples else None

    def median_requests(self, endpoint: str) -> int | None:
        if not self.samples:
            return None
        return int(statistics.median(s.requests.get(endpoint, 0) for s in self.samples))

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "wall_s": self.wall_s,
            "rows_per_s": self.rows_per_s,
            "peak_rss_mib": self.peak_rss_mib,
            "tree_rss_mib": self.tree_rss_mib,
        }


@dataclass
class Incremental:
    """The incremental scenario: what was written, the minimum cost and each connector's."""

    tables: int
    documents: int
    changes: int
    log_rows: int  # change-log rows written after the first syncs (every revision)
    deltas_page_limit: int
    results: dict[str, Result] = field(default_factory=dict)

    @property
    def minimum_requests(self) -> int:
        return max(1, math.ceil(self.log_rows / self.deltas_page_limit))

    def to_json(self) -> dict[str, Any]:
        return {
            "tables": self.tables,
            "documents": self.documents,
            "changes": self.changes,
            "log_rows": self.log_rows,
            "deltas_page_limit": self.deltas_page_limit,
            "minimum_deltas_requests": self.minimum_requests,
            "results": {name: result.to_json() for name, result in self.results.items()},
        }


@dataclass
class PeerInstall:
    """The Airbyte connector's venv, or why it is missing."""

    executable: Path | None
    skipped: str | None = None
    python: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    created_now: bool = False
    install_s: float | None = None


@dataclass
class Verdict:
    goal: str
    measured: str
    met: bool | None  # None: not measured
