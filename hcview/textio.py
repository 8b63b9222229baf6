"""Text files the user brings (CSV records, prediction files): encoding detection and delimiter sniffing, shared
by the data layer and the metric readers."""
from __future__ import annotations

import zlib

from hcview.errors import CsvError

DELIMITERS = (",", ";", "\t", "|")
GZIP_MAGIC = b"\x1f\x8b"


def gunzip_bounded(data: bytes, name: str, limit: int) -> bytes:
    """``data`` inflated when it is gzip (a ``.csv.gz``, every member of a concatenated one), else unchanged.
    Inflation stops at ``limit`` bytes: a gzip bomb or a file that inflates past the input limit is a one-line
    :class:`CsvError`, never a memory spike; so are a damaged or truncated file and bytes after the last member."""
    if not data.startswith(GZIP_MAGIC):
        return data
    out = bytearray()
    rest = data
    while rest:
        if not rest.startswith(GZIP_MAGIC):
            raise CsvError(f"{name}: bytes after the end of the gzip data (not a gzip member)")
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += d.decompress(rest, limit + 1 - len(out))
        except zlib.error as e:
            raise CsvError(f"{name}: a damaged gzip file ({e})") from None
        if len(out) > limit or d.unconsumed_tail:
            raise CsvError(f"{name}: inflates to more than the {limit // (1024 * 1024)} MB input limit")
        if not d.eof:
            raise CsvError(f"{name}: a truncated gzip file")
        rest = d.unused_data
    return bytes(out)


def decode_text(data: bytes, name: str) -> str:
    """CSV bytes -> text: UTF-8 (with or without BOM), UTF-16 / UTF-32 (BOM, or NUL-interleaved ASCII),
    else Windows-1252 / Latin-1. Binary content -> one-line :class:`CsvError`."""
    boms = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
            (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
    enc = next((e for bom, e in boms if data.startswith(bom)), None)
    head = data[:8192]
    if enc is None and b"\x00" in head:
        even, odd = head[0::2], head[1::2]
        if len(head) < 16:
            raise CsvError(f"{name}: not a text CSV file (binary content)")
        if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.1 * len(even):
            enc = "utf-16-le"
        elif even.count(0) > 0.4 * len(even) and odd.count(0) < 0.1 * len(odd):
            enc = "utf-16-be"
        else:
            raise CsvError(f"{name}: not a text CSV file (binary content)")
    candidates = [enc] if enc else ["utf-8", "cp1252", "latin-1"]
    for e in candidates:
        try:
            text = data.decode(e)
        except UnicodeDecodeError:
            continue
        if e.startswith("utf-16") or e.startswith("utf-32") or e == "utf-8-sig":
            text = text.lstrip("\ufeff")
        sample = text[:8192]
        if "\x00" in text or sum(ch < " " and ch not in "\r\n\t\f" for ch in sample) > 8:
            raise CsvError(f"{name}: not a text CSV file (binary content)")
        return text
    raise CsvError(f"{name}: not a text CSV file (binary content)")


def sniff_delimiter(text: str) -> str:
    """The delimiter of a CSV's header line: the most frequent of , ; TAB | (comma when none or a tie)."""
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] > 0 else ","
