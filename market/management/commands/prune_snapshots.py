"""Delete price snapshots (and quote refresh runs) older than SNAPSHOT_RETENTION_DAYS."""

from django.conf import settings
from django.core.management.base import BaseCommand

from market import services
from market.management.reporting import ProgressBar


class Command(BaseCommand):
    help = "Delete snapshots and quote refresh runs older than SNAPSHOT_RETENTION_DAYS."

    def handle(self, *args, **options):
        progress = ProgressBar("prune", stream=self.stderr)
        progress(0, 1)
        result = services.prune_snapshots()
        progress(1, 1)
        progress.close()
        self.stdout.write(
            self.style.SUCCESS(
                f"Pruned {result.snapshots:,} snapshots and {result.refresh_runs:,} quote refresh "
                f"runs older than {result.cutoff:%Y-%m-%d %H:%M} UTC "
                f"({settings.SNAPSHOT_RETENTION_DAYS} days)."
            )
        )
