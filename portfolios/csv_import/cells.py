"""Reading one cell of an uploaded CSV file: its text, dates, numbers and codes (pure)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from market.csv_export import FORMULA_TRIGGERS


class ImportRefused(Exception):
    """The file as a whole cannot be imported; the message says why, in words for the user."""


# The ledger stores DecimalField(max_digits=20, decimal_places=8).
MAX_DECIMAL_PLACES = 8
MAX_INTEGER_DIGITS = 12
STORED = Decimal(1).scaleb(-MAX_DECIMAL_PLACES)
ISIN_RE = re.compile(r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$")
DELIMITERS = (",", ";", "\t")

# (regex, order of day/month/year groups, the format as users read it)
_DATE_FORMATS = [
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), "ymd"),
    (re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{4})$"), "dmy"),
    (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$"), "dmy"),
    (re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$"), "dmy"),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), "ymd"),
]
_TWO_DIGIT_YEAR = re.compile(
    r"^\d{1,2}[-/.]\d{1,2}[-/.]\d{2}$|^\d{2}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{6}$"
)
# An ISO timestamp (as Ghostfolio writes its dates): only the calendar date is kept.
_ISO_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]\d{2}:\d{2}")
_BINARY_SIGNATURES = [
    (b"PK\x03\x04", "a ZIP archive or an Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
]
DATE_FORMATS_TEXT = "YYYY-MM-DD, DD-MM-YYYY, DD/MM/YYYY, DD.MM.YYYY or YYYYMMDD"


def decode_upload(content: bytes) -> str:
    """The file's text, or ImportRefused when it is not UTF-8 text (a UTF-8 BOM is fine)."""
    if not content.strip():
        raise ImportRefused("The file is empty.")
    head = content[:8]
    for signature, what in _BINARY_SIGNATURES:
        if head.startswith(signature):
            raise ImportRefused(
                f"This is not a CSV file: it looks like {what}. "
                "Export or save it as CSV (comma- or semicolon-separated) and upload that."
            )
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportRefused(
            "The file is encoded as UTF-16. Save it as CSV UTF-8 (in Excel: "
            "Save As › CSV UTF-8) and upload it again."
        )
    if b"\x00" in content[:65536]:
        raise ImportRefused("This is not a CSV file: it contains binary data (NUL bytes).")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        byte = content[exc.start : exc.start + 1].hex().upper()
        raise ImportRefused(
            f"The file is not UTF-8 text (byte 0x{byte} on line {line} is not valid UTF-8; "
            "it was probably saved as Windows-1252 or Latin-1). Save it as CSV UTF-8 and "
            "upload it again."
        ) from exc
    return text


def detect_delimiter(header_line: str) -> str | None:
    """The delimiter of the header line: the most frequent of comma, semicolon and tab outside
    quotes, or None when the line has none of them."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else None


def parse_date(text: str) -> dt.date:
    """A trade date in one of the accepted formats; ValueError with the reason otherwise."""
    value = text.strip()
    timestamp = _ISO_TIMESTAMP.match(value)
    if timestamp:
        value = timestamp.group(1)
    if _TWO_DIGIT_YEAR.match(value):
        raise ValueError(
            f"{text!r} has a two-digit year, which is ambiguous: write the year in full "
            "(e.g. 2025-01-31 or 31.01.2025)"
        )
    for pattern, order in _DATE_FORMATS:
        match = pattern.match(value)
        if not match:
            continue
        first, second, third = (int(g) for g in match.groups())
        year, month, day = (first, second, third) if order == "ymd" else (third, second, first)
        try:
            return dt.date(year, month, day)
        except ValueError:
            raise ValueError(f"{text!r} is not a real date") from None
    raise ValueError(f"{text!r} is not a date in a format we read ({DATE_FORMATS_TEXT})")


def parse_decimal(text: str, *, decimal_comma: bool = False) -> Decimal:
    """An exact Decimal from a cell; `decimal_comma` allows "12,5" in semicolon files."""
    value = text.strip().replace("\u00a0", "").replace(" ", "")
    if value.startswith("'"):
        value = value[1:]
    if decimal_comma and "," in value:
        if "." in value or value.count(",") > 1:
            raise ValueError(f"{text!r} mixes separators: write it without thousands separators")
        value = value.replace(",", ".")
    elif "," in value:
        raise ValueError(
            f"{text!r} has a comma: use . as the decimal point and no thousands separator"
        )
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{text!r} is not a number")
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > MAX_DECIMAL_PLACES:
        # Trailing zeros are no precision (Trading 212 writes 10.0000000000 shares).
        if number != number.quantize(STORED):
            raise ValueError(f"{text!r} has more than {MAX_DECIMAL_PLACES} decimal places")
        number = number.quantize(STORED)
    if number.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValueError(f"{text!r} is too large")
    return number


def un_neutralise(text: str) -> str:
    """Undo the single quote our export puts before text a spreadsheet would run as a formula."""
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_TRIGGERS:
        return text[1:]
    return text


def looks_like_data(cell: str) -> bool:
    try:
        parse_date(cell)
        return True
    except ValueError:
        pass
    try:
        parse_decimal(cell)
        return True
    except ValueError:
        return False


def parse_us_date(text: str) -> dt.date:
    """A US broker's MM/DD/YYYY date; of "07/15/2024 as of 07/12/2024" the trade's own date
    (the one after "as of")."""
    value = text.strip()
    if " as of " in value.lower():
        value = value.lower().split(" as of ", 1)[1].strip()
    match = re.match(r"^(\d{1,2})/(\d{1,2})/(\d{4})$", value)
    if not match:
        raise ValueError(f"{text!r} is not a date written MM/DD/YYYY")
    month, day, year = (int(g) for g in match.groups())
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueError(f"{text!r} is not a real date") from None


def parse_money(text: str) -> Decimal:
    """An amount as brokers print it: "$1,234.56", "-$5.00", "($5.00)", "1,259.59"."""
    value = text.strip().replace("$", "").replace("\u00a3", "").replace("\u20ac", "")
    negative = value.startswith("(") and value.endswith(")")
    value = value.strip("()")
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", value):
        value = value.replace(",", "")
    number = parse_decimal(value)
    return -number if negative else number


def is_isin(text: str) -> bool:
    """An ISIN with a valid check digit (US5949181045)."""
    if not ISIN_RE.match(text):
        return False
    digits = "".join(str(int(char, 36)) for char in text[:-1])
    total = 0
    for position, char in enumerate(reversed(digits)):
        number = int(char)
        if position % 2 == 0:
            number *= 2
            number = number - 9 if number > 9 else number
        total += number
    return (10 - total % 10) % 10 == int(text[-1])


def file_size_text(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"
