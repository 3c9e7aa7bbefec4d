"""Helpers for the accounts tests (issue 16): a browser-like session client (cookie jar of
one cookie, CSRF header), e-mail reading from the aiosmtpd capture, org sign-up with an
account."""
import email
import email.policy
import itertools
import os
import re
import socket
import time

from oimtest import wait_for

_seq = itertools.count(1)
PASSWORD = "correct horse battery 한국"


def unique_email(tag="p"):
    return f"{tag}{next(_seq)}-{os.getpid()}@example.kr"


class Session:
    """A signed-in person: the oim_session cookie and the CSRF token, as a browser holds them."""

    def __init__(self, c, cookie, csrf, body):
        self.c, self.cookie, self.csrf, self.body = c, cookie, csrf, body

    @classmethod
    def sign_in(cls, c, email_address, password=PASSWORD, headers=None):
        status, body, hdrs = c.http("POST", "/v1/sessions", {"email": email_address, "password": password},
                                    headers=headers)
        assert status == 201, (status, body)
        cookie = cookie_value(hdrs)
        return cls(c, cookie, body["csrf_token"], body)

    def http(self, method, path, body=None, csrf=True, headers=None):
        hdrs = {"Cookie": f"oim_session={self.cookie}"}
        if csrf and method not in ("GET", "HEAD", "OPTIONS"):
            hdrs["X-CSRF-Token"] = self.csrf
        hdrs.update(headers or {})
        return self.c.http(method, path, body, headers=hdrs)


def cookie_value(headers):
    """The oim_session value of a reply's Set-Cookie."""
    m = re.match(r"oim_session=([^;]*)", headers.get("Set-Cookie", ""))
    assert m, headers
    return m.group(1)


def signup(c, kind="company", key=None, name=None, email_address=None, password=PASSWORD):
    """POST /v1/orgs with an account (by the agency's key: active; anonymous: pending).
    Returns (org reply, e-mail address)."""
    email_address = email_address or unique_email(kind)
    body = {"kind": kind, "name": name or f"{kind} {next(_seq)}", "region": "KR-11",
            "account": {"email": email_address, "password": password, "name": "대표 김"}}
    status, org, _ = c.http("POST", "/v1/orgs", body, key=key)
    assert status == 201, (status, org)
    return org, email_address


class Mailbox:
    """Reads the messages services/notify/tests/smtp_server.py wrote into outdir."""

    def __init__(self, smtp):
        self.smtp = smtp

    def messages(self):
        out = []
        for name in self.smtp.messages():
            with open(os.path.join(self.smtp.outdir, name), "rb") as f:
                msg = email.message_from_bytes(f.read(), policy=email.policy.default)
            out.append((msg["To"], str(msg["Subject"]), msg.get_body(("plain",)).get_content()))
        return out

    def token(self, to, kind, timeout=20):
        """The token of the newest e-mail to `to` whose link is /#/<kind>/<token>."""
        pattern = re.compile(r"/#/" + re.escape(kind) + r"/([A-Za-z0-9_-]+)")

        def find():
            for rcpt, _subject, text in reversed(self.messages()):
                m = pattern.search(text)
                if rcpt == to and m:
                    return m.group(1)
            return None
        return wait_for(find, timeout, f"a {kind} e-mail to {to}", interval=0.1)

    def count(self, to, kind):
        return sum(1 for rcpt, _s, text in self.messages() if rcpt == to and f"/#/{kind}/" in text)


class RawStream:
    """GET /v1/notifications/stream over a raw socket with a session cookie: status, then
    how long until the server ends it."""

    def __init__(self, c, session):
        self.sock = socket.create_connection(("127.0.0.1", c.ports["http_port"]), timeout=10)
        self.sock.sendall((f"GET /v1/notifications/stream HTTP/1.1\r\nHost: x\r\n"
                           f"Cookie: oim_session={session.cookie}\r\n\r\n").encode())
        head = b""
        while b"\r\n" not in head:
            head += self.sock.recv(4096)
        self.status = int(head.split()[1])

    def seconds_until_closed(self, limit):
        start = time.monotonic()
        self.sock.settimeout(0.2)
        while time.monotonic() - start < limit:
            try:
                if not self.sock.recv(4096):
                    return time.monotonic() - start
            except socket.timeout:
                pass
        return None

    def close(self):
        self.sock.close()
