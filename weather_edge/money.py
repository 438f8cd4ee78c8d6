"""Exact money and quantity arithmetic.

Kalshi quotes prices as fixed-point dollar strings with up to 4 decimals ("0.5500") and sizes
with up to 2 decimals ("11813.60"). We keep both as integers so nothing ever touches a binary
float:

* a price is an ``int`` of centi-cents (1/10,000 dollar): "0.5500" -> 5500;
* a size is an ``int`` of centi-contracts (1/100 contract): "11813.60" -> 1181360;
* an amount of money (cost, fee, P&L) is an ``int`` of micro-dollars (1/1,000,000 dollar), the
  exact product of a price and a size: 5500 cc x 1181360 cq = 6_497_480_000 micro-dollars.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

PRICE_SCALE = 10_000  # centi-cents per dollar
SIZE_SCALE = 100  # centi-contracts per contract
MONEY_SCALE = PRICE_SCALE * SIZE_SCALE  # micro-dollars per dollar
ONE_DOLLAR_CC = PRICE_SCALE
ONE_CENT_CC = PRICE_SCALE // 100
CENT_MICROS = MONEY_SCALE // 100  # micro-dollars per cent


class FixedPointError(ValueError):
    """A fixed-point string that is not a valid exact price or size."""


# Plain decimal notation only: Decimal() alone would also take "1_0.00", "+5" or "1e2".
_FIXED_TEXT = re.compile(r"-?\d+(\.\d+)?|-?\.\d+")


def _parse_fixed(text: str | int | Decimal, scale: int, what: str) -> int:
    if isinstance(text, str) and not _FIXED_TEXT.fullmatch(text.strip()):
        raise FixedPointError(f"not a {what}: {text!r}")
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation as exc:
        raise FixedPointError(f"not a {what}: {text!r}") from exc
    if not value.is_finite():
        raise FixedPointError(f"not a finite {what}: {text!r}")
    scaled = value * scale
    if scaled != scaled.to_integral_value():
        raise FixedPointError(f"{what} {text!r} has more precision than 1/{scale}")
    return int(scaled)


def parse_price(text: str | int | Decimal) -> int:
    """Dollar string such as "0.5500" -> centi-cents (5500). Rejects finer than 1/10,000."""
    cc = _parse_fixed(text, PRICE_SCALE, "price")
    if not 0 <= cc <= PRICE_SCALE:
        raise FixedPointError(f"price {text!r} outside [0, 1] dollars")
    return cc


def parse_size(text: str | int | Decimal) -> int:
    """Contract-count string such as "11813.60" -> centi-contracts (1181360). May be signed."""
    return _parse_fixed(text, SIZE_SCALE, "size")


def format_price(cc: int) -> str:
    """Centi-cents -> Kalshi's dollar string with 4 decimals: 5500 -> "0.5500"."""
    sign = "-" if cc < 0 else ""
    whole, frac = divmod(abs(cc), PRICE_SCALE)
    return f"{sign}{whole}.{frac:04d}"


def format_size(cq: int) -> str:
    """Centi-contracts -> Kalshi's size string with 2 decimals: 1181360 -> "11813.60"."""
    sign = "-" if cq < 0 else ""
    whole, frac = divmod(abs(cq), SIZE_SCALE)
    return f"{sign}{whole}.{frac:02d}"


def cents_to_cc(cents: int) -> int:
    """Whole cents (the legacy integer price fields) -> centi-cents."""
    return cents * ONE_CENT_CC


def notional(price_cc: int, size_cq: int) -> int:
    """Exact cost in micro-dollars of ``size_cq`` centi-contracts at ``price_cc``."""
    return price_cc * size_cq


def micros_to_decimal(micros: int) -> Decimal:
    """Micro-dollars -> exact ``Decimal`` dollars, for display and storage."""
    return Decimal(micros) / MONEY_SCALE


def format_dollars(micros: int, places: int = 2) -> str:
    """Micro-dollars -> "$12.34" style text (rounded half-even for display only)."""
    quant = Decimal(1).scaleb(-places)
    return f"${micros_to_decimal(micros).quantize(quant)}"


def price_to_probability(cc: int) -> float:
    """A price as a probability, for models only (never for money)."""
    return cc / PRICE_SCALE
