"""Decoding of CSV byte streams into lines: encodings, a BOM and line ends.

Private to `crmkit.extension.csv_format`, which re-exports `EncodingError`.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import BinaryIO, Final

from crmkit.kernel.errors import ValidationError

_CHUNK: Final = 1 << 16
_EOL: Final = re.compile(r"\r\n|\r|\n")


class EncodingError(ValidationError):
    """The file is not in the encoding it is read with.

    Attributes:
        encoding: The encoding it was read with.
        offset: The offset of the first byte that cannot be decoded.
        line: The line of that byte (counting line feeds; the first line is 1).
    """

    def __init__(self, encoding: str, offset: int, line: int, byte: int):
        self.encoding = encoding
        self.offset = offset
        self.line = line
        super().__init__(
            "file",
            f"is not {encoding}: byte 0x{byte:02x} at offset {offset} (line {line}) cannot be"
            " decoded; pass encoding= with the file's encoding, for example encoding='cp1252'",
        )


def encoding_name(encoding: str | None) -> str:
    """``encoding``, checked to name a known text encoding; UTF-8 when None."""
    if encoding is None:
        return "utf-8"
    try:
        if isinstance(encoding, str):
            "".encode(encoding)  # LookupError for unknown and for bytes-to-bytes codecs
            return encoding
    except LookupError:
        pass
    raise ValidationError("encoding", "must name a known text encoding", encoding)


def decoded_lines(stream: BinaryIO, encoding: str) -> Iterator[str]:
    """The lines of a byte stream with their line ends, decoded; a leading BOM dropped."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    fed = newlines = 0
    pending = ""
    start = True
    while True:
        data = stream.read(_CHUNK)
        if not isinstance(data, bytes | bytearray):
            raise ValidationError("file", "must be opened in binary mode ('rb')")
        try:
            text = decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            held = exc.object[: len(exc.object) - len(data)]  # bytes the decoder kept from before
            offset = fed - len(held) + exc.start
            line = 1 + newlines - held.count(b"\n") + exc.object[: exc.start].count(b"\n")
            raise EncodingError(encoding, offset, line, exc.object[exc.start]) from None
        fed += len(data)
        newlines += data.count(b"\n")
        pending += text
        if start and pending:
            pending = pending.removeprefix("\ufeff")
            start = False
        begin = 0
        for end in _EOL.finditer(pending):
            if end.group() == "\r" and end.end() == len(pending) and data:
                break  # a line feed may follow in the next chunk
            yield pending[begin : end.end()]
            begin = end.end()
        pending = pending[begin:]
        if not data:
            if pending:
                yield pending
            return
