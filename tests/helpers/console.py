"""The console through Flask's test client: a signed-in user, and a page's form read as a
browser would submit it."""

import re
from html.parser import HTMLParser

from crm.services import users

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
UNSENT_INPUTS = ("submit", "button", "reset", "file", "image")


def signed_in(app, role):
    """A test client signed in as a new user with ``role``."""
    _, password = users.create(f"{role}@example.com", role, temporary=False)
    client = app.test_client()
    data = {"email": f"{role}@example.com", "password": password}
    response = client.post("/app/sign-in", data={**data, "csrf_token": token(client, "sign-in")})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def token(client, page="campaigns"):
    """The session's CSRF token, as every console page carries it."""
    page_html = client.get(f"/app/{page}", follow_redirects=True).get_data(as_text=True)
    return CSRF.search(page_html)[1]


def form_fields(page, form_id):
    """What the form ``form_id`` of ``page`` (HTML) submits, its buttons aside."""
    reader = _FormReader(form_id)
    reader.feed(page)
    return reader.fields


class _FormReader(HTMLParser):
    def __init__(self, form_id):
        super().__init__()
        self.form_id, self.inside, self.fields = form_id, False, {}
        self._text_of = self._select = None
        self._first_option = {}

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "form":
            self.inside = found.get("id") == self.form_id
        if not self.inside:
            return
        name = found.get("name")
        if tag == "input" and name and found.get("type", "text") not in UNSENT_INPUTS:
            if found.get("type") not in ("checkbox", "radio") or "checked" in found:
                self.fields[name] = found.get("value") or ""
        elif tag == "textarea" and name:
            self._text_of, self.fields[name] = name, ""
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select:
            self._first_option.setdefault(self._select, found.get("value", ""))
            if "selected" in found:
                self.fields[self._select] = found.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self._text_of = None
        elif tag == "select" and self._select:
            self.fields.setdefault(self._select, self._first_option.get(self._select, ""))
            self._select = None

    def handle_data(self, data):
        if self._text_of:
            self.fields[self._text_of] += data
