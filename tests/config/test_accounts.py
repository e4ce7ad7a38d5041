"""Sign up, sign out, sign in, password change and reset through django-allauth."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

pytestmark = pytest.mark.django_db
PASSWORD = "a-long enough passphrase 42"


def test_sign_up_then_sign_out_then_sign_in(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "ada@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(email="ada@example.com")
    assert client.get("/").wsgi_request.user == user

    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert not client.get("/").wsgi_request.user.is_authenticated

    response = client.post(
        reverse("account_login"), {"login": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/").wsgi_request.user == user


def test_wrong_password_shows_an_error(client, user):
    response = client.post(
        reverse("account_login"), {"login": user.email, "password": "not the password"}
    )
    assert response.status_code == 200
    assert b"The email address and/or password you specified are not correct." in response.content
    assert not response.wsgi_request.user.is_authenticated


def test_sign_up_refuses_a_mismatched_password(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "bob@example.com", "password1": PASSWORD, "password2": PASSWORD + "x"},
    )
    assert response.status_code == 200
    assert b"You must type the same password each time." in response.content
    assert not get_user_model().objects.filter(email="bob@example.com").exists()


def test_pages_use_the_site_layout(client):
    for name in ("account_login", "account_signup", "account_reset_password"):
        content = client.get(reverse(name)).content.decode()
        assert "Minerwatch" in content
        assert "css/site.css" in content


def test_password_change(user_client, user):
    response = user_client.post(
        reverse("account_change_password"),
        {"oldpassword": "correct horse battery", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_reset_sends_a_working_link(client, user):
    response = client.post(reverse("account_reset_password"), {"email": user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    response = client.get(link.group(1), follow=True)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else link.group(1)
    response = client.post(form_url, {"password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_sign_in_is_rate_limited(client, user):
    for _ in range(5):
        client.post(reverse("account_login"), {"login": user.email, "password": "wrong"})
    response = client.post(
        reverse("account_login"), {"login": user.email, "password": "correct horse battery"}
    )
    assert response.status_code == 429 or b"Too many failed login attempts" in response.content
    assert not response.wsgi_request.user.is_authenticated


# -- behind the proxy ------------------------------------------------------------------------------

PROXY = "10.0.0.1"  # every request reaches the site from the proxy's address


def _sign_in(client, email: str, password: str, client_address: str):
    """A sign-in that reached the site through one proxy, which appended the client's address
    to X-Forwarded-For."""
    return client.post(
        reverse("account_login"),
        {"login": email, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=client_address,
    )


@pytest.fixture
def behind_one_proxy(settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_failed_sign_ins_from_one_client_never_block_another_client(behind_one_proxy, client):
    from django.test import Client

    owner = get_user_model().objects.create_user(
        username="owner", email="owner@example.com", password=PASSWORD
    )
    attacker = Client()
    for _ in range(8):
        response = _sign_in(attacker, owner.email, "wrong guess", "203.0.113.9")
    assert b"Too many failed login attempts" in response.content
    # The attacker is blocked for this account even with the right password...
    response = _sign_in(attacker, owner.email, PASSWORD, "203.0.113.9")
    assert not response.wsgi_request.user.is_authenticated
    # ...while the owner, behind the same proxy from another address, signs in at once.
    response = _sign_in(client, owner.email, PASSWORD, "198.51.100.4")
    assert response.status_code == 302
    assert response.wsgi_request.user == owner


def test_one_client_guessing_across_accounts_is_stopped_by_its_address(behind_one_proxy):
    from django.test import Client

    guesser = Client()
    for number in range(20):
        response = _sign_in(guesser, f"someone{number}@example.com", "guess", "203.0.113.9")
        assert b"Too many failed login attempts" not in response.content
    response = _sign_in(guesser, "someone-else@example.com", "guess", "203.0.113.9")
    assert b"Too many failed login attempts" in response.content
    # Another client behind the same proxy is not concerned.
    response = _sign_in(Client(), "someone-else@example.com", "guess", "198.51.100.4")
    assert b"Too many failed login attempts" not in response.content


def test_the_client_address_header_setting_is_used_when_set(settings, client):
    settings.ALLAUTH_TRUSTED_CLIENT_IP_HEADER = "X-Real-IP"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    owner = get_user_model().objects.create_user(
        username="owner", email="owner@example.com", password=PASSWORD
    )
    url = reverse("account_login")
    for _ in range(6):
        client.post(
            url,
            {"login": owner.email, "password": "x"},
            REMOTE_ADDR=PROXY,
            HTTP_X_REAL_IP="1.2.3.4",
        )
    response = client.post(
        url,
        {"login": owner.email, "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_REAL_IP="5.6.7.8",
    )
    assert response.status_code == 302
