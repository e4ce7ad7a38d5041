"""Stream live quotes into the database and out to open pages, until stopped."""

import asyncio
import contextlib

from django.core.management.base import BaseCommand

from market.streaming.streamer import build


class Command(BaseCommand):
    help = "Hold the live price stream (Yahoo's streamer, or the simulated one) until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--provider", help="yahoo or simulated (default: MARKET_DATA_PROVIDER)")

    def handle(self, *args, provider=None, **options):
        streamer = build(provider)
        self.stdout.write(f"streaming {streamer.source.name} quotes; Ctrl-C stops")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(streamer.run())
