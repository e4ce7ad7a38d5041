"""`{% your_position instrument as mine %}` on a miner's page: the signed-in user's position
across portfolios, their watchlists (those it is on marked) and their alerts on it; rendered by
portfolios/includes/your_position.html."""

from __future__ import annotations

from django import template

from portfolios.instrument_position import instrument_position

register = template.Library()


@register.simple_tag(takes_context=True)
def your_position(context, instrument):
    user = context["request"].user
    return instrument_position(user, instrument) if user.is_authenticated else None
