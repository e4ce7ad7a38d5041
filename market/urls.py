from django.urls import path

from market import views

app_name = "market"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("sector/history.json", views.sector_history_json, name="sector_history"),
    path("miners/", views.miner_search, name="miner_search"),
    path("miners/suggest/", views.miner_suggest, name="miner_suggest"),
    path("miners/<str:symbol>/", views.miner, name="miner"),
    path("miners/<str:symbol>/bars.json", views.miner_bars_json, name="miner_bars"),
]
