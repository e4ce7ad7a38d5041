"""Fetch daily bars and split events: a backfill of N years, or the daily incremental update."""

from django.core.management.base import BaseCommand, CommandError

from market import services
from market.management.commands.refresh_quotes import write
from market.management.reporting import ProgressBar, unknown_symbols
from market.providers import ProviderError, get_provider


class Command(BaseCommand):
    help = (
        "Backfill daily bars (default: 5 years of every active instrument). --update fetches "
        "only the last days (and backfills instruments that have no bars); --missing backfills "
        "only instruments that have no bars."
    )

    def add_arguments(self, parser):
        parser.add_argument("--symbols", nargs="+", metavar="SYMBOL", help="only these symbols")
        parser.add_argument("--years", type=int, default=5, help="years of history (default 5)")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--update", action="store_true", help="incremental daily update")
        mode.add_argument("--missing", action="store_true", help="instruments without bars only")
        parser.add_argument("--provider", help="yahoo or simulated (default: settings)")

    def handle(self, *args, **options):
        if options["years"] < 1:
            raise CommandError("--years must be at least 1")
        if options["symbols"] and (options["update"] or options["missing"]):
            raise CommandError("--symbols goes with a backfill, not with --update or --missing")
        unknown = unknown_symbols(options["symbols"])
        if unknown:
            raise CommandError(
                f"Not an instrument: {', '.join(unknown)} (add it to the universe or a watchlist)"
            )
        provider = get_provider(options["provider"])
        progress = ProgressBar("bars", stream=self.stderr)
        common = {"provider": provider, "years": options["years"], "progress": progress}
        try:
            if options["update"]:
                run = services.update_bars(**common)
            elif options["missing"]:
                run = services.backfill_missing_bars(**common)
            else:
                run = services.backfill_bars(symbols=options["symbols"], **common)
        except ProviderError as exc:
            progress.close()
            raise CommandError(f"Daily bars: stopped: {exc}") from exc
        progress.close()
        if run is None:
            self.stdout.write("Daily bars: every active instrument already has bars.")
            return
        write(self, run)
