from django.apps import AppConfig


def _run_saved(sender, instance, **kwargs) -> None:
    """A refresh run that ends changes what the pages show: the quotes runs always (the pages
    say how fresh the quotes are and whether the last refresh failed), the others when they
    stored something or failed. One that starts, or is skipped because another is under way,
    changes nothing on them (only /status/, which is never cached)."""
    from config import versions

    if instance.status in {sender.Status.RUNNING, sender.Status.SKIPPED}:
        return
    if (
        instance.kind == sender.Kind.QUOTES
        or instance.stored_count
        or instance.error_count
        or instance.status == sender.Status.FAILED
    ):
        versions.market_changed()


class MarketConfig(AppConfig):
    name = "market"
    verbose_name = "Market data"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from config import versions

        # Any save of a market model through the ORM (an admin edit, a refresh run finishing,
        # an instrument added) makes the cached pages out of date. Bulk writes in the refresh
        # services are covered by the RefreshRun save that ends every run, and pruning says so
        # itself: a delete receiver on snapshots or runs would make their bulk deletes fetch
        # every row.
        run_model = self.get_model("RefreshRun")
        for model in self.get_models():
            if model is run_model:
                continue
            uid = f"pagecache.market.{model.__name__}"
            post_save.connect(versions.market_changed, sender=model, dispatch_uid=uid + ".save")
        post_save.connect(_run_saved, sender=run_model, dispatch_uid="pagecache.market.run.save")
        for name in ("Instrument", "Miner", "Quote", "SplitEvent"):
            post_delete.connect(
                versions.market_changed,
                sender=self.get_model(name),
                dispatch_uid=f"pagecache.market.{name}.delete",
            )
