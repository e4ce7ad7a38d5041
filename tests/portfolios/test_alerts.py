"""Alerts: evaluated after a refresh with a constant number of queries, at most once per
session day, creating a notification and an email."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from market.models import Quote
from market.signals import quotes_refreshed
from portfolios.models import Notification, PriceAlert
from portfolios.services import evaluate_alerts
from tests.factories import InstrumentFactory, QuoteFactory, UserFactory

D = Decimal
pytestmark = pytest.mark.django_db
UTC = dt.UTC
# Tuesday 2025-06-03 in New York: pre-market from 08:00 UTC, regular 13:30-20:00 UTC.
TUESDAY_REGULAR = dt.datetime(2025, 6, 3, 15, 0, tzinfo=UTC)


def set_quote(instrument, at: dt.datetime, **values) -> Quote:
    defaults = {"provider_time": at, "fetched_at": at, "market_state": "regular"}
    defaults.update(values)
    Quote.objects.filter(instrument=instrument).update(**defaults)
    return Quote.objects.get(instrument=instrument)


def alert(owner, instrument, condition, threshold, **extra) -> PriceAlert:
    return PriceAlert.objects.create(
        owner=owner, instrument=instrument, condition=condition, threshold=D(threshold), **extra
    )


def test_price_above_fires_on_a_crossing_with_a_notification_and_an_email(user, iren):
    watch = alert(user, iren, "above", "39")
    set_quote(iren, TUESDAY_REGULAR)  # price 40.00

    fired = evaluate_alerts(now=TUESDAY_REGULAR)
    assert [f.alert.pk for f in fired] == [watch.pk]
    notification = Notification.objects.get()
    assert notification.owner == user
    assert notification.text == "IREN traded at $40.00, above your $39.00 alert."
    assert notification.link == reverse("market:miner", args=["IREN"])
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    # The factory's quotes come from the simulated provider: the email says so.
    assert mail.outbox[0].subject == "[simulated] Minerwatch alert: IREN"
    body = mail.outbox[0].body
    assert (
        "- IREN traded at $40.00, above your $39.00 alert. (simulated price, not market data)"
        in body
    )
    assert "  http://127.0.0.1:8000/miners/IREN/\n" in body
    assert "These prices come from the simulated provider" in body
    watch.refresh_from_db()
    assert watch.last_triggered_session == dt.date(2025, 6, 3)
    assert watch.armed is False

    # Still above, the same day or any later day: no crossing, no firing.
    later = TUESDAY_REGULAR + dt.timedelta(hours=3)
    set_quote(iren, later, price=D("41"))
    assert evaluate_alerts(now=later) == []
    friday = dt.datetime(2025, 6, 6, 15, 0, tzinfo=UTC)
    set_quote(iren, friday, price=D("42"))
    assert evaluate_alerts(now=friday) == []
    # Back to 1% under $39 ($38.61) re-arms it (without firing); the next crossing fires again,
    # the same day.
    set_quote(iren, friday + dt.timedelta(minutes=1), price=D("38"))
    assert evaluate_alerts(now=friday + dt.timedelta(minutes=1)) == []
    watch.refresh_from_db()
    assert watch.armed is True
    set_quote(iren, friday + dt.timedelta(minutes=2), price=D("39.50"))
    assert len(evaluate_alerts(now=friday + dt.timedelta(minutes=2))) == 1
    assert Notification.objects.count() == 2
    assert len(mail.outbox) == 2


def test_an_alert_set_past_its_threshold_waits_for_the_price_to_go_back(user_client, user, iren):
    """The price is $40: an alert above $39 set now does not fire at once, and says when it
    will: once the price has been back to $38.61 (1% under $39), then reaches $39 again."""
    response = user_client.post(
        "/alerts/new/",
        {"symbol": "IREN", "condition": "above", "threshold": "39", "active": "on"},
        follow=True,
    )
    page = response.content.decode()
    assert "Alert set: IREN, price above 39." in page
    assert (
        "IREN is already above $39.00 (it trades at $40.00): this alert fires once the price has "
        "gone back to $38.61 or below, then reaches $39.00 again."
    ) in page
    watch = PriceAlert.objects.get(owner=user)
    assert watch.armed is False
    assert "waiting for $38.61 or below before it fires again" in page
    set_quote(iren, TUESDAY_REGULAR)
    assert evaluate_alerts(now=TUESDAY_REGULAR) == []
    # Under $39 but not back to $38.61: still waiting, so $39 does not fire.
    set_quote(iren, TUESDAY_REGULAR + dt.timedelta(minutes=1), price=D("38.62"))
    assert evaluate_alerts(now=TUESDAY_REGULAR + dt.timedelta(minutes=1)) == []
    set_quote(iren, TUESDAY_REGULAR + dt.timedelta(minutes=2), price=D("39"))
    assert evaluate_alerts(now=TUESDAY_REGULAR + dt.timedelta(minutes=2)) == []
    # $38.61 exactly re-arms it; $39 fires.
    set_quote(iren, TUESDAY_REGULAR + dt.timedelta(minutes=3), price=D("38.61"))
    assert evaluate_alerts(now=TUESDAY_REGULAR + dt.timedelta(minutes=3)) == []
    set_quote(iren, TUESDAY_REGULAR + dt.timedelta(minutes=4), price=D("39"))
    assert len(evaluate_alerts(now=TUESDAY_REGULAR + dt.timedelta(minutes=4))) == 1


def test_an_alert_set_short_of_its_threshold_says_nothing_more(user_client, user, iren):
    response = user_client.post(
        "/alerts/new/",
        {"symbol": "IREN", "condition": "below", "threshold": "39", "active": "on"},
        follow=True,
    )
    page = response.content.decode()
    assert "Alert set: IREN, price below 39." in page
    assert "is already" not in page
    assert PriceAlert.objects.get(owner=user).armed is True


def test_each_condition(user, iren):
    set_quote(
        iren,
        TUESDAY_REGULAR,
        price=D("40"),
        change_percent=D("-6.5"),
        pre_market_change_percent=None,
    )
    below = alert(user, iren, "below", "40")  # at the threshold counts
    move = alert(user, iren, "day_move", "6")  # a fall counts as a move
    big_move = alert(user, iren, "day_move", "7")
    not_below = alert(user, iren, "below", "39.99")
    paused = alert(user, iren, "above", "1", active=False)
    fired = {f.alert.pk: f.text for f in evaluate_alerts(now=TUESDAY_REGULAR)}
    assert set(fired) == {below.pk, move.pk}
    assert fired[move.pk] == (
        "IREN fell -6.50% on the day to $40.00 (your alert: a move of 6% or more)."
    )
    assert not {big_move.pk, not_below.pk, paused.pk} & set(fired)
    assert len(mail.outbox) == 1 and mail.outbox[0].subject == "[simulated] Minerwatch: 2 alerts"


def test_pre_market_move_belongs_to_the_day_it_trades_before(user, iren):
    pre = alert(user, iren, "pre_move", "5")
    day = alert(user, iren, "day_move", "5")
    # 08:30 NY on Wednesday: the regular price is Tuesday's close (with Tuesday's +8% move).
    wednesday_pre = dt.datetime(2025, 6, 4, 12, 30, tzinfo=UTC)
    tuesday_close = dt.datetime(2025, 6, 3, 20, 0, tzinfo=UTC)
    set_quote(
        iren,
        tuesday_close,
        fetched_at=wednesday_pre,
        market_state="pre",
        change_percent=D("8"),
        pre_market_price=D("42.4"),
        pre_market_change_percent=D("6"),
    )
    fired = {f.alert.pk: f for f in evaluate_alerts(now=wednesday_pre)}
    # The day move shown before the open is Tuesday's: not a move to alert on now.
    assert set(fired) == {pre.pk}
    assert fired[pre.pk].session == dt.date(2025, 6, 4)
    assert fired[pre.pk].text == (
        "IREN is up +6.00% in pre-market at $42.40 (your alert: a move of 5% or more)."
    )
    pre.refresh_from_db()
    assert pre.last_triggered_session == dt.date(2025, 6, 4)
    day.refresh_from_db()
    assert day.last_triggered_session is None


def test_crypto_session_days_are_utc_days(user):
    bitcoin = InstrumentFactory(symbol="BTC-USD", kind="crypto")
    QuoteFactory(instrument=bitcoin, price=D("100000"), previous_close=D("99000"))
    watch = alert(user, bitcoin, "above", "90000")
    late = dt.datetime(2025, 6, 3, 23, 30, tzinfo=UTC)  # 19:30 in New York
    set_quote(bitcoin, late)
    assert len(evaluate_alerts(now=late)) == 1
    watch.refresh_from_db()
    assert watch.last_triggered_session == dt.date(2025, 6, 3)
    # Back under and over again after midnight UTC: the 4th for crypto (the 3rd in New York).
    after_midnight = dt.datetime(2025, 6, 4, 0, 30, tzinfo=UTC)
    set_quote(bitcoin, after_midnight, price=D("89000"))
    assert evaluate_alerts(now=after_midnight) == []
    set_quote(bitcoin, after_midnight, price=D("91000"))
    assert len(evaluate_alerts(now=after_midnight)) == 1
    watch.refresh_from_db()
    assert watch.last_triggered_session == dt.date(2025, 6, 4)


def test_evaluation_runs_a_constant_number_of_queries(django_assert_num_queries, iren):
    def make_alerts(count):
        for _ in range(count):
            owner = UserFactory()
            alert(owner, iren, "above", "1")
            alert(owner, iren, "below", "1")  # never fires

    set_quote(iren, TUESDAY_REGULAR)
    make_alerts(2)
    # read the alerts that fire (with instrument, quote, owner), mark them fired, insert
    # notifications; plus the savepoint pair of the batch's atomic block
    with django_assert_num_queries(5):
        assert len(evaluate_alerts(now=TUESDAY_REGULAR)) == 2
    make_alerts(40)
    next_day = TUESDAY_REGULAR + dt.timedelta(days=1)
    set_quote(iren, next_day)
    with django_assert_num_queries(5):  # the 40 new ones cross; the first 2 stay above
        assert len(evaluate_alerts(now=next_day)) == 40
    with django_assert_num_queries(3):  # nothing moved, nothing to fire
        assert evaluate_alerts(now=next_day) == []
    assert Notification.objects.count() == 42


def test_a_refresh_signal_queues_the_evaluation(
    user, iren, django_capture_on_commit_callbacks, settings
):
    from config.celery import app

    watch = alert(user, iren, "above", "39")
    set_quote(iren, TUESDAY_REGULAR)
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            quotes_refreshed.send(sender=None, refresh_run_id=1)
    finally:
        app.conf.task_always_eager = False
    watch.refresh_from_db()
    assert watch.last_triggered_at is not None
    assert Notification.objects.filter(owner=user).count() == 1


# -- pages ------------------------------------------------------------------------------------


def test_create_an_alert_plain_and_with_htmx(user_client, user, iren):
    response = user_client.post(
        reverse("portfolios:alert_create"),
        {"symbol": "iren", "condition": "above", "threshold": "50", "active": "on"},
    )
    assert response.status_code == 302
    response = user_client.post(
        reverse("portfolios:alert_create"),
        {"symbol": "IREN", "condition": "day_move", "threshold": "10", "active": "on"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "Alert set: IREN, day move at least 10%." in response.content.decode()
    assert list(user.alerts.values_list("condition", "threshold", "active")) == [
        ("above", D("50"), True),
        ("day_move", D("10"), True),
    ]


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"symbol": "IREN", "condition": "above", "threshold": "0"},
            "The threshold must be more than zero.",
        ),
        (
            {"symbol": "IREN", "condition": "below", "threshold": "-3"},
            "The threshold must be more than zero.",
        ),
        (
            {"symbol": "IREN", "condition": "day_move", "threshold": "5000"},
            "A move is a percentage: enter at most 1000.",
        ),
        ({"symbol": "IREN", "condition": "sideways", "threshold": "5"}, "Select a valid choice."),
        (
            {"symbol": "ZZZ", "condition": "above", "threshold": "5"},
            "does not know the symbol ZZZ.",
        ),
        ({"symbol": "", "condition": "above", "threshold": "5"}, "This field is required."),
    ],
)
def test_bad_alert_input_is_refused(user_client, iren, data, message, htmx):
    response = user_client.post(
        reverse("portfolios:alert_create"), data, headers={"HX-Request": "true"} if htmx else {}
    )
    assert response.status_code == 422
    assert message in response.content.decode()
    if htmx:
        assert response["HX-Retarget"] == "#alert-form"
    assert not PriceAlert.objects.exists()


def test_edit_pause_and_delete_an_alert(user_client, user, iren, clsk):
    watch = alert(user, iren, "above", "50")
    edit = reverse("portfolios:alert_edit", args=[watch.pk])
    response = user_client.post(edit, {"symbol": "CLSK", "condition": "below", "threshold": "0"})
    assert response.status_code == 422
    watch.refresh_from_db()
    assert (watch.instrument, watch.condition) == (iren, "above")
    response = user_client.post(
        edit, {"symbol": "CLSK", "condition": "below", "threshold": "9", "active": "on"}
    )
    assert response.status_code == 302
    watch.refresh_from_db()
    assert (watch.instrument, watch.condition, watch.threshold) == (clsk, "below", D("9"))

    user_client.post(reverse("portfolios:alert_toggle", args=[watch.pk]))
    watch.refresh_from_db()
    assert watch.active is False
    user_client.post(
        reverse("portfolios:alert_delete", args=[watch.pk]), headers={"HX-Request": "true"}
    )
    assert not PriceAlert.objects.exists()


def test_notifications_page_and_mark_read(user_client, user, other_user):
    first = Notification.objects.create(owner=user, text="IREN above $50")
    Notification.objects.create(owner=user, text="CLSK fell 8%")
    Notification.objects.create(owner=other_user, text="not yours")
    page = user_client.get(reverse("portfolios:notifications")).content.decode()
    assert "IREN above $50" in page and "not yours" not in page
    assert 'aria-label="2 unread"' in page  # the badge in the navigation

    response = user_client.post(
        reverse("portfolios:notification_read", args=[first.pk]), headers={"HX-Request": "true"}
    )
    assert 'id="unread-badge" hx-swap-oob="true"' in response.content.decode()
    first.refresh_from_db()
    assert first.read_at is not None
    user_client.post(reverse("portfolios:notifications_read_all"))
    assert not user.notifications.filter(read_at__isnull=True).exists()
    assert other_user.notifications.filter(read_at__isnull=True).count() == 1


def test_the_alerts_page_shows_the_date_it_last_fired(user_client, user, iren):
    alert(user, iren, "above", "39", last_triggered_at=dt.datetime(2025, 6, 3, 15, 0, tzinfo=UTC))
    html = user_client.get("/alerts/").content.decode()
    assert ">Jun 3, 2025 11:00 ET</time>" in html


def test_two_alerts_either_side_of_a_hovering_price_fire_once_each(user):
    """BTC-USD at $43,923 with alerts $40 above and below it; the price wobbles across both for
    three minutes (a tick every 10 s). Each fires once (2 notifications, 2 emails), where
    crossing alone sent one per wobble. The "above" one fires again only after the price has
    been back to $43,523.37 (1% under $43,963)."""
    bitcoin = InstrumentFactory(symbol="BTC-USD", kind="crypto")
    QuoteFactory(instrument=bitcoin, price=D("43923"), previous_close=D("43000"))
    above = alert(user, bitcoin, "above", "43963")
    below = alert(user, bitcoin, "below", "43883")
    start = dt.datetime(2025, 6, 3, 15, 0, tzinfo=UTC)
    wobble = ["43970", "43875", "43968", "43880", "43990", "43850", "43965", "43883", "43963"]
    fired = []
    for n, price in enumerate(wobble * 2):
        at = start + dt.timedelta(seconds=10 * (n + 1))
        set_quote(bitcoin, at, price=D(price))
        fired += [(n, f.alert.pk) for f in evaluate_alerts(now=at, instrument_ids=[bitcoin.pk])]
    assert fired == [(0, above.pk), (1, below.pk)]
    assert list(Notification.objects.order_by("id").values_list("text", flat=True)) == [
        "BTC-USD traded at $43,970.00, above your $43,963.00 alert.",
        "BTC-USD traded at $43,875.00, below your $43,883.00 alert.",
    ]
    assert len(mail.outbox) == 2

    later = start + dt.timedelta(minutes=5)
    set_quote(bitcoin, later, price=D("43523.38"))  # a cent short of the re-arm level
    assert evaluate_alerts(now=later, instrument_ids=[bitcoin.pk]) == []
    set_quote(bitcoin, later + dt.timedelta(seconds=10), price=D("43963"))
    assert evaluate_alerts(now=later, instrument_ids=[bitcoin.pk]) == []
    set_quote(bitcoin, later + dt.timedelta(seconds=20), price=D("43523.37"))
    assert evaluate_alerts(now=later, instrument_ids=[bitcoin.pk]) == []  # re-armed
    set_quote(bitcoin, later + dt.timedelta(seconds=30), price=D("43963"))
    assert [f.alert.pk for f in evaluate_alerts(now=later, instrument_ids=[bitcoin.pk])] == [
        above.pk
    ]
    assert Notification.objects.count() == 3
