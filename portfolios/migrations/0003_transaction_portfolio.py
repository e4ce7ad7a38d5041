import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill_portfolio(apps, schema_editor):
    Holding = apps.get_model("portfolios", "Holding")
    Transaction = apps.get_model("portfolios", "Transaction")
    Transaction.objects.update(
        portfolio_id=Subquery(
            Holding.objects.filter(pk=OuterRef("holding_id")).values("portfolio_id")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("portfolios", "0002_ledger_and_alert_constraints"),
    ]

    operations = [
        migrations.AddField(
            model_name="transaction",
            name="portfolio",
            field=models.ForeignKey(
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="transactions",
                to="portfolios.portfolio",
            ),
        ),
        migrations.RunPython(fill_portfolio, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="transaction",
            name="portfolio",
            field=models.ForeignKey(
                editable=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="transactions",
                to="portfolios.portfolio",
            ),
        ),
        migrations.AddIndex(
            model_name="transaction",
            index=models.Index(
                fields=["portfolio", "-trade_date", "-id"], name="txn_portfolio_recent"
            ),
        ),
    ]
