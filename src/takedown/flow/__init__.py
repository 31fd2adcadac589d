"""The flow: job handlers that carry a case from one stage to the next.

Each module registers the jobs of one stage (``jobs.registry.job_handler``) and is the one
place where that stage hands over to the next: capture and matching (``cases``), tracing
(``tracing``), routing and notices (``notices``), police deconfliction (``police``),
re-checks, re-notices and removal (``monitoring``), lists and appeals (``lists``,
``appeals``), and chaining the audit log (``audit``). A stage hands work on by enqueueing
the next job by name in the same transaction, so the stages' domain packages never import
one another's handlers. The layers contract in pyproject.toml keeps this package above the
domains and below the edge (web app, console, CLI).
"""
