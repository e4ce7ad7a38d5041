"""Request input checked before any view: control characters refused with 400, Accept-Encoding
read with its q-values, and `Cache-Control: private` on what a signed-in browser gets."""

import pytest

from config.inputs import accepted_encodings

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/miners/?q=IR%00EN", "the query parameter “q”"),
        ("/miners/?q=%1b[31m", "the query parameter “q”"),
        ("/miners.csv?sort=%7f", "the query parameter “sort”"),
        ("/miners/?%00=1", "the query parameter “?”"),
        ("/miners/IR%00EN/", "the address"),
    ],
)
def test_control_characters_in_the_address_or_query_get_400(client, path, where):
    response = client.get(path)
    assert response.status_code == 400
    assert response.content.decode() == (
        f"Bad request: {where} contains a control character (such as NUL).\n"
    )


def test_control_characters_in_a_form_get_400_urlencoded_or_multipart(user_client):
    for content_type in ("application/x-www-form-urlencoded", None):
        kwargs = {"content_type": content_type} if content_type else {}
        data = "name=a%00b" if content_type else {"name": "a\x00b"}
        response = user_client.post("/watchlists/new/", data, **kwargs)
        assert response.status_code == 400
        assert b"the form field \xe2\x80\x9cname\xe2\x80\x9d" in response.content
    assert not user_client.get("/watchlists/").context["watchlists"]


def test_tabs_and_line_breaks_are_ordinary_text(user_client):
    response = user_client.post("/watchlists/new/", {"name": "AI\tpivoters"})
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        ("gzip;q=0", ""),
        ("gzip; q=0.0, br", "br"),
        ("gzip;q=0.5, identity;q=0", "gzip;q=0.5"),
        ("gzip, deflate, br", "gzip, deflate, br"),
        ("*;q=0, gzip;q=1", "gzip;q=1"),
    ],
)
def test_codings_a_browser_refuses_are_dropped(header, kept):
    assert accepted_encodings(header) == kept


def test_gzip_q0_reaches_whitenoise_and_the_views_as_no_gzip(client):
    # Whitenoise (compressed static files) and every view below read the cleaned header, and
    # whitenoise picks the .gz file only for a header that names gzip.
    response = client.get("/miners/", headers={"accept-encoding": "gzip;q=0, identity"})
    assert response.wsgi_request.META["HTTP_ACCEPT_ENCODING"] == "identity"
    assert "Content-Encoding" not in response
    response = client.get("/miners/", headers={"accept-encoding": "gzip, br"})
    assert response.wsgi_request.META["HTTP_ACCEPT_ENCODING"] == "gzip, br"


def test_private_pages_say_private(user_client, user):
    from tests.factories import PortfolioFactory

    portfolio = PortfolioFactory(owner=user)
    for path in (
        "/watchlists/",
        f"/portfolios/{portfolio.pk}/",
        f"/portfolios/{portfolio.pk}/transactions/",
        f"/portfolios/{portfolio.pk}/transactions.csv",
        "/notifications/",
        "/alerts/",
        "/",
    ):
        response = user_client.get(path)
        assert response.status_code == 200, path
        assert "private" in response["Cache-Control"], path


def test_anonymous_public_pages_are_not_marked_private(client):
    response = client.get("/miners/")
    assert "Cache-Control" not in response
