#!/usr/bin/env python3
"""Checks a message received by smtp_server.py with Python's email package.

Usage: check_email.py FILE.eml EXPECTED_SUBJECT [TEXT_THAT_BOTH_PARTS_CONTAIN ...]
Exit 0 when: the subject decodes exactly to EXPECTED_SUBJECT; encoded-words are ≤ 75
characters and header lines ≤ 76 (RFC 2047) where encoded; the message is
multipart/alternative with a text/plain and a text/html part, both UTF-8, each containing
every TEXT; Date and Message-ID are present and parse.
"""
import email
import email.policy
import email.utils
import re
import sys


def fail(why):
    print("check_email:", why, file=sys.stderr)
    sys.exit(1)


def main():
    path, expected = sys.argv[1], sys.argv[2]
    raw = open(path, "rb").read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if str(msg["subject"]) != expected:
        fail(f"subject {str(msg['subject'])!r} != {expected!r}")
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    for line in head.split("\r\n"):
        if "=?" in line and len(line) > 76:
            fail(f"encoded header line longer than 76: {line!r}")
        for word in re.findall(r"=\?[^?]+\?[bBqQ]\?[^?]*\?=", line):
            if len(word) > 75:
                fail(f"encoded-word longer than 75: {word!r}")
    if msg.get_content_type() != "multipart/alternative":
        fail("not multipart/alternative: " + msg.get_content_type())
    parts = {p.get_content_type(): p for p in msg.iter_parts()}
    for kind in ("text/plain", "text/html"):
        part = parts.get(kind)
        if part is None:
            fail("missing part " + kind)
        if part.get_content_charset() != "utf-8":
            fail(kind + " not utf-8")
        content = part.get_content()
        for text in sys.argv[3:]:
            if text not in content:
                fail(f"{kind} lacks {text!r}")
    if email.utils.parsedate_to_datetime(str(msg["date"])) is None:
        fail("bad Date")
    if not re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", str(msg["message-id"])):
        fail("bad Message-ID " + str(msg["message-id"]))
    print("check_email: OK", path, str(msg["subject"]))


if __name__ == "__main__":
    main()
