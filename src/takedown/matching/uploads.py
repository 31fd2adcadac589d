"""Read one uploaded file from a multipart body into memory, never onto disk.

Starlette's form parser spools every file over 1 MB to a temporary file. An upload to the
hash and match endpoints may be the very material a hotline exists to remove, so it must not
be left in ``/tmp`` (or in a disk block that ``/tmp`` gave back): this reader keeps the bytes
in memory only, and stops reading as soon as the file passes its size limit.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from takedown.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from takedown.textfields import forbidden_character, refusal

# Text fields beside the file (a bank name, a format) are short.
_FIELD_LIMIT = 64 * 1024


@dataclass
class Upload:
    """The one file of a multipart body, and any short text fields sent with it."""

    field_name: str
    filename: str
    data: bytes
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)


class _Reader:
    def __init__(self, max_bytes: int, too_large: type[PayloadTooLarge]) -> None:
        self.max_bytes = max_bytes
        self.too_large = too_large
        self.parts: list[_Part] = []
        self.current = _Part()
        self.header_name = bytearray()
        self.header_value = bytearray()

    def on_part_begin(self) -> None:
        self.current = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if bytes(self.header_name).lower() == b"content-disposition":
            _, options = parse_options_header(bytes(self.header_value))
            self.current.name = options.get(b"name", b"").decode("utf-8", "replace")
            filename = options.get(b"filename")
            if filename is not None:
                self.current.filename = filename.decode("utf-8", "replace")
        self.header_name.clear()
        self.header_value.clear()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self.current
        part.data += data[start:end]
        limit = self.max_bytes if part.filename is not None else _FIELD_LIMIT
        if len(part.data) > limit:
            what = f"the file {part.filename!r}" if part.filename is not None else "a form field"
            raise self.too_large(f"{what} is larger than {limit} bytes", limit=limit)

    def on_part_end(self) -> None:
        self.parts.append(self.current)


async def read_upload(
    request: Request,
    *,
    max_bytes: int,
    fields: Collection[str] = ("file",),
    too_large: type[PayloadTooLarge] = PayloadTooLarge,
) -> Upload:
    """The single file part (named one of ``fields``) of a ``multipart/form-data`` body."""
    media, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if media != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaType("send the file as multipart/form-data")
    reader = _Reader(max_bytes, too_large)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": reader.on_part_begin,
            "on_header_field": reader.on_header_field,
            "on_header_value": reader.on_header_value,
            "on_header_end": reader.on_header_end,
            "on_part_data": reader.on_part_data,
            "on_part_end": reader.on_part_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise BadRequest(f"the multipart body cannot be parsed: {exc}") from exc
    files = [part for part in reader.parts if part.filename is not None]
    wanted = " or ".join(repr(name) for name in fields)
    if len(files) != 1 or files[0].name not in fields:
        raise BadRequest(f"send exactly one file, in the form field {wanted}")
    text = {
        part.name: part.data.decode("utf-8", "replace")
        for part in reader.parts
        if part.filename is None
    }
    # The text parts beside the file are free text (a note, a source): the same rule as
    # every other text field (takedown.textfields), which the control-character guard
    # cannot apply to a body it does not read.
    for name, value in text.items():
        character = forbidden_character(value, multiline=True)
        if character is not None:
            message = refusal(character, multiline=True)
            raise ValidationFailed(f"form.{name}: {message}")
    found = files[0]
    return Upload(found.name, found.filename or "", bytes(found.data), text)
