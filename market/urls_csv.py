"""URLs of the public CSV downloads."""

from django.urls import path

from market import views_csv

app_name = "market_csv"

urlpatterns = [
    path("miners/<str:symbol>/history.csv", views_csv.daily_history_csv, name="daily_history"),
]
