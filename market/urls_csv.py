"""URLs of the public CSV downloads."""

from django.urls import path

from market import views_csv

app_name = "market_csv"

urlpatterns = [
    path("miners.csv", views_csv.miners_csv, name="miners"),
    path("miners/<str:symbol>/history.csv", views_csv.daily_history_csv, name="daily_history"),
]
