"""Rules shared across the apps: the market's time zone, what a symbol looks like, note length,
currencies quoted in their minor unit."""

import re
from zoneinfo import ZoneInfo

from django.conf import settings

# Market sessions, market days and the times pages show are New York's.
NEW_YORK = ZoneInfo(settings.MARKET_TIME_ZONE)

# A provider symbol: IREN, BTC-USD, BRK.B, EURUSD=X, ^GSPC (upper case, at most 20 characters).
SYMBOL_RE = re.compile(r"^[A-Z0-9^][A-Z0-9.\-=^]{0,19}$")

# The longest note a watchlist item or a transaction keeps.
NOTE_MAX_LENGTH = 200

# Some markets quote in their currency's minor unit: London in pence (Yahoo writes "GBp", brokers
# "GBX"), Johannesburg in cents ("ZAc"), Tel Aviv in agorot ("ILA"). Prices are kept in the major
# unit: each code -> (the ISO currency, what its amounts are divided by). Case matters: "GBP" is
# pounds.
MINOR_UNITS = {
    "GBp": ("GBP", 100),
    "GBX": ("GBP", 100),
    "GBx": ("GBP", 100),
    "ZAc": ("ZAR", 100),
    "ZAC": ("ZAR", 100),
    "ILA": ("ILS", 100),
}
