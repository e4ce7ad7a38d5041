from django.db import migrations, models


def start_from_the_current_price(apps, schema_editor):
    """Existing price alerts start from today's price, so that one already past its threshold
    waits for a crossing instead of firing again."""
    PriceAlert = apps.get_model("portfolios", "PriceAlert")
    Quote = apps.get_model("market", "Quote")
    prices = dict(Quote.objects.values_list("instrument_id", "price"))
    alerts = list(PriceAlert.objects.filter(condition__in=["above", "below"]))
    for alert in alerts:
        alert.last_price = prices.get(alert.instrument_id)
    PriceAlert.objects.bulk_update(alerts, ["last_price"], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("market", "0002_refreshrun_heartbeat_details"),
        ("portfolios", "0005_holding_trade_date_fx"),
    ]

    operations = [
        migrations.AddField(
            model_name="pricealert",
            name="last_price",
            field=models.DecimalField(blank=True, decimal_places=8, max_digits=20, null=True),
        ),
        migrations.RunPython(start_from_the_current_price, migrations.RunPython.noop),
    ]
