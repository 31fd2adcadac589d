"""Signed checkpoints of the chain's head, kept outside the database.

A checkpoint says "at this time the chain had this many records and its record at position N
had hash H", signed with the checkpoint key (``audit.keys``). Kept where the database's
administrators cannot rewrite it (another machine, write-once storage, a ticket), it catches
what the chain alone cannot: the newest records deleted (truncation), or the whole chain
recomputed by someone who has the key. ``audit.checkpoint`` writes one every hour into
``audit_checkpoint_dir``; ``takedown audit checkpoint`` writes one on demand and
``takedown audit verify`` checks the chain against the newest.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.orm import Session

from takedown.audit import service
from takedown.errors import ValidationFailed

FORMAT = "takedown-audit-checkpoint/1"
_PREFIX = "checkpoint-"


class CheckpointError(ValidationFailed):
    """A checkpoint file that cannot be read or whose signature does not hold."""


@dataclass(frozen=True)
class Checkpoint:
    position: int
    hash: str
    records: int
    at: datetime

    def statement(self) -> bytes:
        """The exact bytes signed: canonical JSON of the fields."""
        fields = {
            "format": FORMAT,
            "position": self.position,
            "hash": self.hash,
            "records": self.records,
            "at": self.at.isoformat(),
        }
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def take(session: Session, key: bytes, now: datetime) -> Checkpoint:
    """Chain whatever waits, verify the chain, and describe its head.

    A chain that does not verify gets no checkpoint: signing a broken head would bless it.
    """
    service.chain_all(session, key)
    result = service.verify(session, key)
    if not result.ok:
        first = result.problems[0]
        raise ValidationFailed(
            f"the audit chain does not verify (record {first.seq}: {first.problem}); "
            "no checkpoint written"
        )
    return Checkpoint(result.position, result.head, result.records, now)


def write(checkpoint: Checkpoint, signing: Ed25519PrivateKey, directory: Path) -> Path:
    """Write ``checkpoint`` with its signature as a new file in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    body = json.loads(checkpoint.statement())
    body["signature"] = base64.b64encode(signing.sign(checkpoint.statement())).decode()
    stamp = checkpoint.at.strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"{_PREFIX}{checkpoint.position:012d}-{stamp}.json"
    # Exclusive creation: a checkpoint is never overwritten.
    with path.open("x", encoding="utf-8") as out:
        json.dump(body, out, indent=2, sort_keys=True)
        out.write("\n")
    return path


def read(path: Path, public: Ed25519PublicKey) -> Checkpoint:
    """Read a checkpoint file and check its signature."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        checkpoint = Checkpoint(
            position=int(body["position"]),
            hash=str(body["hash"]),
            records=int(body["records"]),
            at=datetime.fromisoformat(body["at"]),
        )
        signature = base64.b64decode(body["signature"], validate=True)
        if body.get("format") != FORMAT:
            raise CheckpointError(f"{path} is not a {FORMAT} file")
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise CheckpointError(f"cannot read the checkpoint {path}: {exc}") from exc
    try:
        public.verify(signature, checkpoint.statement())
    except InvalidSignature:
        raise CheckpointError(f"the signature of checkpoint {path} does not hold") from None
    return checkpoint


def newest(directory: Path) -> Path | None:
    """The checkpoint of the longest chain in ``directory`` (names sort by position)."""
    if not directory.is_dir():
        return None
    files = sorted(directory.glob(f"{_PREFIX}*.json"))
    return files[-1] if files else None


def check(session: Session, checkpoint: Checkpoint) -> list[str]:
    """What the chain now says against ``checkpoint``: an empty list when it agrees."""
    if checkpoint.position == 0:
        return []
    found = service.hash_at(session, checkpoint.position)
    when = checkpoint.at.isoformat(timespec="seconds")
    if found is None:
        return [
            f"the checkpoint of {when} saw record position {checkpoint.position}, which is "
            "gone: records were deleted (the chain was truncated or rebuilt)"
        ]
    if found != checkpoint.hash:
        return [
            f"the record at position {checkpoint.position} has another hash than the "
            f"checkpoint of {when} saw: the chain was rewritten"
        ]
    return []
