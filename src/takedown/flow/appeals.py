"""The ``lists.appeal_tell`` job: e-mail the appellant the outcome of their appeal, once.

Like ``notices.send``, in three steps so that no transaction is open while the SMTP server
talks (a slow server must not hold SQLite's write lock):

1. read the appeal in a short transaction of its own and build the message; nothing to do
   when ``told_at`` is set (the job ran before, or a second job was queued by hand);
2. hand the message to the SMTP relay, with a Message-ID that is the same on every attempt;
3. set ``told_at`` in the job's transaction, which commits with the job's success.

A worker killed between 2 and 3 sends again on the next attempt with the same Message-ID
(RFC 1047), which is as close to exactly once as SMTP allows. Temporary failures raise, so the
job is retried with backoff; a permanent refusal (a mailbox that does not exist) is recorded
in the audit log and not retried, leaving ``told_at`` empty for staff to see.
"""

from __future__ import annotations

import uuid
from typing import Any

from takedown.errors import TakedownError
from takedown.jobs.registry import JobContext, job_handler
from takedown.lists import appeals
from takedown.notices.channels import DeliveryResult, SmtpSender
from takedown.notices.message import REFERENCE_HEADER


class TellFailed(TakedownError):
    """A temporary delivery failure: the job is retried with backoff."""


@job_handler(appeals.TELL_JOB, max_attempts=12)
def tell_appellant(ctx: JobContext, payload: dict[str, Any]) -> None:
    appeal_id = uuid.UUID(payload["appeal_id"])
    now = ctx.clock.now()
    with ctx.database.transaction() as session:
        message = appeals.tell_message(session, appeal_id, ctx.settings, now=now)
    if message is None:
        return
    if not ctx.settings.smtp_host:
        result = DeliveryResult(False, False, "no SMTP server is configured (TAKEDOWN_SMTP_HOST)")
    else:
        result = SmtpSender.from_settings(ctx.settings).send(message)
    if not result.accepted and not result.permanent:
        # The job's last error is shown to staff without the appellant's address.
        detail = result.detail.replace(str(message["To"]), "<appellant>")
        raise TellFailed(f"appeal {message[REFERENCE_HEADER]}: {detail}")
    appeals.record_told(
        ctx.session, appeal_id, accepted=result.accepted, detail=result.detail, now=now
    )
