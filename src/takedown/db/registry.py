"""Imports every model module so that ``Base.metadata`` knows the whole schema."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "takedown.audit.models",
    "takedown.auth.models",
    "takedown.orgs.models",
    "takedown.cases.models",
    "takedown.intake.models",
    "takedown.jobs.models",
    "takedown.matching.models",
    "takedown.tracing.models",
    "takedown.routing.models",
    "takedown.notices.models",
    "takedown.monitoring.models",
    "takedown.police.models",
    "takedown.lists.models",
    "takedown.assessment.models",
    "takedown.exposure.models",
    "takedown.stats.models",
    "takedown.runtime",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
