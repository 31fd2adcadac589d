"""The record of what tracing asked and what answered, kept with the trace."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from takedown.tracing.schemas import Evidence

Source = Literal["dns", "ipdata", "asn-dns", "directory", "rdap", "cdn-list"]
# Answers from outside are cut to this length: evidence explains a trace, it is no archive.
_MAX_ANSWER = 500


class EvidenceLog:
    """Collects evidence lines in the order the questions were asked."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.lines: list[Evidence] = []

    def add(self, source: Source, query: str, answer: str, *, ok: bool = True) -> None:
        self.lines.append(
            Evidence(at=self.now, source=source, query=query, answer=answer[:_MAX_ANSWER], ok=ok)
        )

    def as_json(self) -> list[dict[str, Any]]:
        return [line.model_dump(mode="json") for line in self.lines]
