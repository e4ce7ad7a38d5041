"""`{% your_position instrument %}` on a miner's page: the signed-in user's position across
portfolios, the watchlists it is in and their alerts on it."""

from __future__ import annotations

from django import template

from portfolios.instrument_position import instrument_position

register = template.Library()


@register.inclusion_tag("portfolios/includes/your_position.html", takes_context=True)
def your_position(context, instrument) -> dict:
    user = context["request"].user
    if not user.is_authenticated:
        return {"mine": None, "instrument": instrument}
    return {"mine": instrument_position(user, instrument), "instrument": instrument}
