"""Refresh instrument profiles: shares outstanding (for market caps) and enterprise value."""

from django.core.management.base import BaseCommand, CommandError

from market import services
from market.management.commands.refresh_quotes import write
from market.management.reporting import ProgressBar, unknown_symbols
from market.providers import ProviderError, get_provider


class Command(BaseCommand):
    help = "Refresh profiles older than a day (--force: all of them)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="refresh every profile")
        parser.add_argument("--symbols", nargs="+", metavar="SYMBOL", help="only these symbols")
        parser.add_argument("--provider", help="yahoo or simulated (default: settings)")

    def handle(self, *args, **options):
        unknown = unknown_symbols(options["symbols"])
        if unknown:
            raise CommandError(
                f"Not an instrument: {', '.join(unknown)} (add it to the universe or a watchlist)"
            )
        provider = get_provider(options["provider"])
        progress = ProgressBar("profiles", stream=self.stderr)
        try:
            run = services.refresh_profiles(
                provider=provider,
                force=options["force"],
                symbols=options["symbols"],
                progress=progress,
            )
        except ProviderError as exc:
            progress.close()
            raise CommandError(f"Profiles: stopped: {exc}") from exc
        progress.close()
        write(self, run)
