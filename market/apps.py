from django.apps import AppConfig

# Models whose rows feed what is computed from the bars (config/versions.py): the bars and
# splits themselves, and the instruments and miners that decide which series are summed and
# with which share counts.
BARS_MODELS = ("DailyBar", "SplitEvent", "Instrument", "Miner")


def _run_saved(sender, instance, **kwargs) -> None:
    """A refresh run that ends changes what the pages show: the quotes runs always (the pages
    say how fresh the quotes are and whether the last refresh failed), the others when they
    stored something or failed. One that starts, or is skipped because another is under way,
    changes nothing on them (only /status/, which is never cached). A bars run that stored
    something also changes what is computed from the bars, and so does a profiles run (the
    sector history multiplies closes by the share counts it stores)."""
    from config import versions

    if instance.status in {sender.Status.RUNNING, sender.Status.SKIPPED}:
        return
    stored = instance.stored_count or instance.error_count
    if stored and instance.kind in {sender.Kind.BARS, sender.Kind.PROFILES}:
        versions.bars_changed()
    elif stored or instance.kind == sender.Kind.QUOTES or instance.status == sender.Status.FAILED:
        versions.market_changed()


class MarketConfig(AppConfig):
    name = "market"
    verbose_name = "Market data"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_delete, post_save

        from config import versions
        from market.streaming.guard import end_streams_of

        user_logged_out.connect(end_streams_of, dispatch_uid="market.streams.sign_out")

        # Any save of a market model through the ORM (an admin edit, a refresh run finishing,
        # an instrument added) makes the cached pages out of date; a save of a bar, a split,
        # an instrument or a miner also what is computed from the bars. Bulk writes in the
        # refresh services are covered by the RefreshRun save that ends every run, and pruning
        # says so itself: a delete receiver on snapshots or runs would make their bulk deletes
        # fetch every row.
        run_model = self.get_model("RefreshRun")
        for model in self.get_models():
            if model is run_model:
                continue
            receiver = versions.market_changed
            if model.__name__ in BARS_MODELS:
                receiver = versions.bars_changed
            uid = f"versions.market.{model.__name__}"
            post_save.connect(receiver, sender=model, dispatch_uid=uid + ".save")
        post_save.connect(_run_saved, sender=run_model, dispatch_uid="versions.market.run.save")
        for name in ("Quote", *BARS_MODELS):
            receiver = versions.bars_changed if name in BARS_MODELS else versions.market_changed
            post_delete.connect(
                receiver,
                sender=self.get_model(name),
                dispatch_uid=f"versions.market.{name}.delete",
            )
