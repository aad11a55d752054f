"""/login/: where the LMS sends learners on their way to a certificate page."""

from __future__ import annotations

from django.test import Client


def test_login_forwards_to_a_page_of_this_site_only(client: Client) -> None:
    # given: the LMS's link to a program certificate (programs/utils.py, force_program_cert_auth)
    page = "/credentials/62684a4b2c644b57b689471ab114ff43/"
    # when
    forwarded = client.get("/login/", {"next": page})
    elsewhere = client.get("/login/", {"next": "https://evil.example.com/phish"})
    # then
    assert forwarded.status_code == 302 and forwarded["Location"] == page
    assert elsewhere.status_code == 302 and elsewhere["Location"] == "/"
    assert client.get("/login/")["Location"] == "/"
