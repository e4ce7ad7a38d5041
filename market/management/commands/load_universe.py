"""Load the miners universe and benchmarks from market/data/universe.csv (or --file)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from market.universe import UNIVERSE_FILE, UniverseFileError, load_universe


class Command(BaseCommand):
    help = "Load the miners universe and benchmarks. Running it twice changes nothing."

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=UNIVERSE_FILE, help="CSV file to load")
        parser.add_argument(
            "--update",
            action="store_true",
            help="overwrite facts of existing instruments with the file's (default: keep them)",
        )

    def handle(self, *args, **options):
        try:
            result = load_universe(path=options["file"], update=options["update"])
        except UniverseFileError as exc:
            raise CommandError(
                f"{options['file']}: nothing loaded.\n" + "\n".join(exc.errors)
            ) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Universe: {len(result.created)} created, {len(result.updated)} updated, "
                f"{len(result.unchanged)} unchanged."
            )
        )
