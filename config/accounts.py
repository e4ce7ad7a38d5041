"""Sign-in rate limits that count per client, so that nobody can lock somebody else out.

allauth counts failed sign-ins per address and per "key", the account's email. Counted per email
alone, five wrong passwords typed by anyone anywhere would block that account's owner too. Here
the key is the email *and* the client's address: a client that guesses wrong is blocked for that
account, while the owner signing in from elsewhere is not. Guessing across many accounts from one
address is still stopped by the per-address limit (ACCOUNT_RATE_LIMITS in settings).

The client's address comes from allauth's `ALLAUTH_TRUSTED_PROXY_COUNT` (the proxy's
X-Forwarded-For) or `ALLAUTH_TRUSTED_CLIENT_IP_HEADER`, set from the environment: behind a proxy
every request would otherwise come from the proxy's own address.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        # allauth's per-account key for the "login_failed" limit (and its reset after a password
        # reset), with the client's address added.
        account = super()._get_login_attempts_cache_key(request, **credentials)
        return f"{account}:{self.get_client_ip(request)}"
