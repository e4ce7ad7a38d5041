"""Fetch the quotes that are due (all of them with --force) and store them with snapshots."""

from django.core.management.base import BaseCommand, CommandError

from market import services
from market.management.reporting import ProgressBar, run_summary, unknown_symbols
from market.models import RefreshRun
from market.providers import ProviderError, get_provider


class Command(BaseCommand):
    help = "Refresh quotes: instruments in session, or whose quote is stale (--force: all)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="fetch every active instrument")
        parser.add_argument("--symbols", nargs="+", metavar="SYMBOL", help="only these symbols")
        parser.add_argument("--provider", help="yahoo or simulated (default: settings)")

    def handle(self, *args, **options):
        unknown = unknown_symbols(options["symbols"])
        if unknown:
            raise CommandError(
                f"Not an instrument: {', '.join(unknown)} (add it to the universe or a watchlist)"
            )
        provider = get_provider(options["provider"])
        progress = ProgressBar("quotes", stream=self.stderr)
        try:
            run = services.refresh_quotes(
                provider=provider,
                force=options["force"],
                symbols=options["symbols"],
                progress=progress,
            )
        except ProviderError as exc:
            progress.close()
            raise CommandError(f"Quotes: failed, nothing stored: {exc}") from exc
        progress.close()
        write(self, run)


def write(command: BaseCommand, run: RefreshRun, noun: str = "instruments") -> None:
    """The summary, styled by outcome; a failed run is an error (exit status 1)."""
    summary = run_summary(run, noun)
    if run.status == RefreshRun.Status.FAILED:
        raise CommandError(summary)
    style = command.style.SUCCESS if run.status == RefreshRun.Status.OK else command.style.WARNING
    command.stdout.write(style(summary))
