"""People, sessions and named API keys (issue 16) on a real stack: Redis, the gateway, the
registry and oim-notify sending account e-mails to an aiosmtpd capture server.

Covered: passwords only as Argon2id hashes (every Redis key and value scanned for the
plaintext), session cookie attributes, idle and absolute expiry, CSRF refusal, throttled
sign-in (per account and per address, 429 + Retry-After), e-mail verification, invitations and
password resets single-use and expiring, removing a person ends their sessions at once,
several API keys revocable one by one, a suspended org's people refused, a pending org's
people limited like its pending key."""
import hashlib
import json
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import oimtest  # noqa: E402
from oimtest import AGENCY_KEY as AGENCY, Resp, wait_for  # noqa: E402
from accounts_util import PASSWORD, Mailbox, RawStream, Session, signup, unique_email  # noqa: E402
from test_notify_util import SmtpServer  # noqa: E402

IDLE_S = 3
WINDOW_S = 10


def flatten(value):
    """Every byte string inside a Redis reply, joined (to search raw bytes, UTF-8 included)."""
    if isinstance(value, (list, tuple)):
        return b"\x00".join(flatten(v) for v in value)
    if isinstance(value, str):
        return value.encode()
    return value if isinstance(value, bytes) else str(value).encode()


class Accounts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = oimtest.Cluster(curve=False).__enter__()
        try:
            cls.maildir = os.path.join(cls.c.dir, "mail")
            os.makedirs(cls.maildir)
            cls.smtp = SmtpServer(cls.maildir)
            cls.mail = Mailbox(cls.smtp)
            cls.c.start_redis()
            cls.c.start_gateway()
            cls.registry_env = dict(OIM_SESSION_IDLE_SEC=IDLE_S, OIM_SIGNIN_WINDOW_SEC=WINDOW_S,
                                    OIM_PUBLIC_URL="https://oim.test")
            cls.c.start("registry", **cls.registry_env)
            cls.c.start("notify", OIM_SMTP_URL=f"smtp://127.0.0.1:{cls.smtp.port}")
            cls.c.wait_registered({"registry": 1, "notify": 1})
        except Exception:
            cls.c.__exit__(*sys.exc_info())
            raise

    @classmethod
    def tearDownClass(cls):
        cls.smtp.stop()
        cls.c.__exit__(None, None, None)

    def http(self, *args, **kw):
        return self.c.http(*args, **kw)

    def owner(self, kind="company"):
        """An active org with its owner signed in: (org, e-mail, Session)."""
        org, address = signup(self.c, kind, key=AGENCY)
        return org, address, Session.sign_in(self.c, address)

    # ---- passwords ----------------------------------------------------------------------
    def test_no_plaintext_password_in_redis(self):
        secret = "plaintext-Secret-비밀-" + str(os.getpid())
        org, address = signup(self.c, "startup", key=AGENCY, password=secret)
        self.assertEqual(org["account"]["email"], address)
        self.assertFalse(org["account"]["email_verified"])
        self.assertNotIn("password", str(org))
        s = Session.sign_in(self.c, address, secret)
        status, _, _ = s.http("POST", f"/v1/orgs/{org['id']}/invitations", {"email": unique_email()})
        self.assertEqual(status, 201)
        r = Resp(self.c.redis_sock)
        try:
            found, scanned, cursor, seen_email = [], 0, b"0", False
            needle = secret.encode()
            while True:
                cursor, keys = r.cmd("SCAN", cursor, "COUNT", "500")
                for key in keys:
                    scanned += 1
                    kind = r.cmd("TYPE", key)
                    kind = kind.decode() if isinstance(kind, bytes) else kind
                    if kind == "none":          # expired since SCAN listed it (a counter)
                        continue
                    value = {"string": ("GET", key), "hash": ("HGETALL", key),
                             "list": ("LRANGE", key, "0", "-1"), "set": ("SMEMBERS", key),
                             "zset": ("ZRANGE", key, "0", "-1"),
                             "stream": ("XRANGE", key, "-", "+")}[kind]
                    data = flatten(r.cmd(*value))
                    if needle in key or needle in data:
                        found.append(key)
                    seen_email = seen_email or address.encode() in data
                    if kind == "string" and key.startswith(b"oim:user:") and b":sessions" not in key:
                        self.assertIn(b"$argon2id$", r.cmd("GET", key))
                if cursor in (b"0", 0, "0"):
                    break
        finally:
            r.close()
        self.assertGreater(scanned, 10)
        self.assertTrue(seen_email, "the scan cannot see stored values (the e-mail is stored)")
        self.assertEqual(found, [], "the plaintext password is stored")

    def test_account_validation(self):
        body = {"kind": "startup", "name": "v", "account": {"email": "nope", "password": PASSWORD, "name": "n"}}
        status, err, _ = self.http("POST", "/v1/orgs", body)
        self.assertEqual((status, err["error"]["field"]), (422, "account.email"))
        body["account"] = {"email": unique_email(), "password": "short", "name": "n"}
        status, err, _ = self.http("POST", "/v1/orgs", body)
        self.assertEqual((status, err["error"]["field"]), (422, "account.password"))
        _, address = signup(self.c, "startup")
        body["account"] = {"email": address.upper(), "password": PASSWORD, "name": "n"}
        status, err, _ = self.http("POST", "/v1/orgs", body)
        self.assertEqual((status, err["error"]["field"]), (409, "account.email"))

    # ---- sessions -----------------------------------------------------------------------
    def test_sign_in_cookie_and_current(self):
        org, address, s = self.owner()
        self.assertEqual(s.body["user"]["role"], "owner")
        self.assertEqual(s.body["org"]["id"], org["id"])
        status, _, hdrs = self.http("POST", "/v1/sessions", {"email": address, "password": PASSWORD})
        cookie = hdrs["Set-Cookie"]
        for attribute in ("HttpOnly", "SameSite=Lax", "Path=/"):
            self.assertIn(attribute, cookie)
        self.assertNotIn("Secure", cookie)
        status, _, hdrs = self.http("POST", "/v1/sessions", {"email": address, "password": PASSWORD},
                                    headers={"X-Forwarded-Proto": "https"})
        self.assertIn("; Secure", hdrs["Set-Cookie"])
        status, cur, _ = s.http("GET", "/v1/sessions/current")
        self.assertEqual((status, cur["user"]["email"], cur["csrf_token"]), (200, address, s.csrf))
        status, who, _ = s.http("GET", "/v1/whoami")
        self.assertEqual((status, who["role"], who["org_id"]), (200, "company", org["id"]))
        # A session acts as its org: creates a demand like its key would.
        status, demand, _ = s.http("POST", "/v1/demands", {"title": "배터리 재활용 파트너"})
        self.assertEqual(status, 201, demand)
        self.assertEqual(demand["org_id"], org["id"])
        status, audit, _ = self.http("GET", "/v1/admin/audit?limit=200", key=AGENCY)
        entry = next(e for e in audit["items"] if e.get("entity_id") == demand["id"])
        self.assertEqual(entry.get("actor_user_id"), s.body["user"]["id"], entry)
        status, _, hdrs = s.http("DELETE", "/v1/sessions/current")
        self.assertEqual(status, 204)
        self.assertIn("Max-Age=0", hdrs["Set-Cookie"])
        self.assertEqual(s.http("GET", "/v1/sessions/current")[0], 401)

    def test_wrong_credentials_same_answer(self):
        _, address = signup(self.c, "startup", key=AGENCY)
        a = self.http("POST", "/v1/sessions", {"email": address, "password": "wrong password!"})
        b = self.http("POST", "/v1/sessions", {"email": unique_email("nobody"), "password": "wrong password!"})
        self.assertEqual((a[0], a[1]["error"]["code"]), (401, "invalid_credentials"))
        self.assertEqual((b[0], b[1]), (a[0], a[1]))

    def test_csrf_required(self):
        org, _, s = self.owner()
        for csrf_header in (None, "not-the-token"):
            headers = {"X-CSRF-Token": csrf_header} if csrf_header else {}
            status, err, _ = s.http("POST", "/v1/demands", {"title": "x"}, csrf=False, headers=headers)
            self.assertEqual((status, err["error"]["code"]), (403, "csrf"))
            status, err, _ = s.http("DELETE", "/v1/sessions/current", csrf=False, headers=headers)
            self.assertEqual(status, 403)
        self.assertEqual(s.http("GET", f"/v1/orgs/{org['id']}/members", csrf=False)[0], 200)
        # A bearer key is never asked for a CSRF token.
        self.assertEqual(self.http("POST", "/v1/demands", {"title": "y"}, key=org["api_key"])[0], 201)
        self.assertEqual(s.http("POST", "/v1/demands", {"title": "z"})[0], 201)
        # Signing in again while holding a session needs no token (it acts by its own body).
        address = s.body["user"]["email"]
        status, _, _ = s.http("POST", "/v1/sessions", {"email": address, "password": PASSWORD}, csrf=False)
        self.assertEqual(status, 201)

    def test_session_idle_expiry(self):
        _, _, s = self.owner()
        for _ in range(3):          # used every second: stays alive past the idle timeout
            time.sleep(IDLE_S / 2)
            self.assertEqual(s.http("GET", "/v1/sessions/current")[0], 200)
        time.sleep(IDLE_S + 0.5)
        self.assertEqual(s.http("GET", "/v1/sessions/current")[0], 401)
        # The expired session's hash leaves the person's set at their next sign-in.
        sessions_key = f"oim:user:{s.body['user']['id']}:sessions"
        self.assertEqual(self.c.redis_cli("SCARD", sessions_key), "1")
        again = Session.sign_in(self.c, s.body["user"]["email"])
        self.assertEqual(self.c.redis_cli("SMEMBERS", sessions_key), hashlib.sha256(again.cookie.encode()).hexdigest())
        # An ended session is anonymous: public pages still answer, signed-in ones do not.
        self.assertEqual(s.http("GET", "/v1/taxonomy")[0], 200)
        self.assertEqual(s.http("GET", "/v1/notifications")[0], 401)

    def test_throttled_sign_in(self):
        # Start from a clean window for this address (other tests' failures expire first).
        wait_for(lambda: not self.c.redis_cli("KEYS", "oim:signin:fails:a:*"), WINDOW_S + 2,
                 "the address's failure window to lapse", interval=0.2)
        _, address = signup(self.c, "startup", key=AGENCY)
        for _ in range(5):
            status, _, _ = self.http("POST", "/v1/sessions", {"email": address, "password": "wrong password"})
            self.assertEqual(status, 401)
        status, err, hdrs = self.http("POST", "/v1/sessions", {"email": address, "password": PASSWORD})
        self.assertEqual((status, err["error"]["code"]), (429, "rate_limited"))
        self.assertTrue(1 <= int(hdrs["Retry-After"]) <= WINDOW_S, hdrs)
        # Per address: 20 failures over many accounts block even a right password elsewhere.
        _, other = signup(self.c, "startup", key=AGENCY)
        for i in range(15):
            self.http("POST", "/v1/sessions", {"email": unique_email("spray"), "password": "guess guess"})
        status, _, hdrs = self.http("POST", "/v1/sessions", {"email": other, "password": PASSWORD})
        self.assertEqual(status, 429)
        wait_s = int(hdrs["Retry-After"])
        time.sleep(wait_s + 0.5)
        self.assertEqual(self.http("POST", "/v1/sessions", {"email": other, "password": PASSWORD})[0], 201)
        self.assertEqual(self.http("POST", "/v1/sessions", {"email": address, "password": PASSWORD})[0], 201)

    # ---- e-mailed tokens ----------------------------------------------------------------
    def test_email_verification_single_use(self):
        org, address = signup(self.c, "startup", key=AGENCY)
        token = self.mail.token(address, "verify-email")
        self.assertEqual(self.http("POST", f"/v1/email-verifications/{token}")[0], 204)
        status, err, _ = self.http("POST", f"/v1/email-verifications/{token}")
        self.assertEqual((status, err["error"]["code"]), (404, "token_invalid"))
        s = Session.sign_in(self.c, address)
        self.assertTrue(s.body["user"]["email_verified"])

    def test_invitation_single_use_and_member_rights(self):
        org, _, owner = self.owner()
        invited = unique_email("member")
        status, inv, _ = owner.http("POST", f"/v1/orgs/{org['id']}/invitations", {"email": invited, "role": "member"})
        self.assertEqual(status, 201, inv)
        self.assertNotIn("token", inv)
        token = self.mail.token(invited, "accept-invitation")
        status, user, _ = self.http("POST", f"/v1/invitations/{token}/accept", {"name": "이 팀원", "password": PASSWORD})
        self.assertEqual((status, user["email"], user["role"], user["email_verified"]), (201, invited, "member", True))
        status, err, _ = self.http("POST", f"/v1/invitations/{token}/accept", {"name": "again", "password": PASSWORD})
        self.assertEqual((status, err["error"]["code"]), (404, "token_invalid"))
        member = Session.sign_in(self.c, invited)
        self.assertEqual(member.body["user"]["role"], "member")
        status, members, _ = member.http("GET", f"/v1/orgs/{org['id']}/members")
        self.assertEqual(sorted(m["role"] for m in members["items"]), ["member", "owner"])
        for method, path, body in (("POST", f"/v1/orgs/{org['id']}/invitations", {"email": unique_email()}),
                                   ("GET", f"/v1/orgs/{org['id']}/api-keys", None),
                                   ("POST", f"/v1/orgs/{org['id']}/api-keys", {"name": "m"})):
            self.assertEqual(member.http(method, path, body)[0], 403, path)
        # Another org's owner sees nothing of this one.
        other_org, _, other = self.owner()
        self.assertEqual(other.http("GET", f"/v1/orgs/{org['id']}/members")[0], 403)

    def test_password_reset_single_use_ends_sessions(self):
        _, address, s = self.owner("startup")
        status, body, _ = self.http("POST", "/v1/password-resets", {"email": address})
        self.assertEqual(status, 202)
        self.assertEqual(self.http("POST", "/v1/password-resets", {"email": unique_email("ghost")})[:2], (status, body))
        token = self.mail.token(address, "reset-password")
        new_password = "a brand new password 2"
        status, err, _ = self.http("POST", f"/v1/password-resets/{token}", {"password": "short"})
        self.assertEqual((status, err["error"]["field"]), (422, "password"))
        self.assertEqual(self.http("POST", f"/v1/password-resets/{token}", {"password": new_password})[0], 204)
        self.assertEqual(self.http("POST", f"/v1/password-resets/{token}", {"password": new_password})[0], 404)
        self.assertEqual(s.http("GET", "/v1/sessions/current")[0], 401, "the old session survived a reset")
        self.assertEqual(self.http("POST", "/v1/sessions", {"email": address, "password": PASSWORD})[0], 401)
        Session.sign_in(self.c, address, new_password)

    def test_tokens_and_sessions_expire(self):
        """With 1-second tokens and a 2-second absolute session life (registry restarted)."""
        self.c.restart("registry", **dict(self.registry_env, OIM_RESET_TTL_SEC=1, OIM_INVITE_TTL_SEC=1,
                                          OIM_SESSION_MAX_SEC=2, OIM_SESSION_IDLE_SEC=60))
        try:
            self.c.wait_registered({"registry": 1})
            org, address, s = self.owner()
            invited = unique_email("late")
            status, _, _ = s.http("POST", f"/v1/orgs/{org['id']}/invitations", {"email": invited})
            self.assertEqual(status, 201)
            self.http("POST", "/v1/password-resets", {"email": address})
            invite = self.mail.token(invited, "accept-invitation")
            reset = self.mail.token(address, "reset-password")
            time.sleep(2.2)
            self.assertEqual(self.http("POST", f"/v1/invitations/{invite}/accept",
                                       {"name": "n", "password": PASSWORD})[0], 404)
            self.assertEqual(self.http("POST", f"/v1/password-resets/{reset}", {"password": PASSWORD + "x"})[0], 404)
            self.assertEqual(s.http("GET", "/v1/sessions/current")[0], 401, "past the absolute end")
        finally:
            self.c.restart("registry", **self.registry_env)
            self.c.wait_registered({"registry": 1})

    # ---- people and keys ----------------------------------------------------------------
    def test_removing_a_person_ends_their_sessions(self):
        org, _, owner = self.owner()
        invited = unique_email("leaver")
        owner.http("POST", f"/v1/orgs/{org['id']}/invitations", {"email": invited})
        token = self.mail.token(invited, "accept-invitation")
        user = self.http("POST", f"/v1/invitations/{token}/accept", {"name": "n", "password": PASSWORD})[1]
        member = Session.sign_in(self.c, invited)
        self.assertEqual(member.http("GET", "/v1/notifications")[0] in (200, 503), True)
        self.assertEqual(member.http("GET", f"/v1/orgs/{org['id']}/members")[0], 200)
        self.assertEqual(owner.http("DELETE", f"/v1/orgs/{org['id']}/members/{user['id']}")[0], 204)
        self.assertEqual(member.http("GET", f"/v1/orgs/{org['id']}/members")[0], 401)
        self.assertEqual(member.http("GET", "/v1/sessions/current")[0], 401)
        self.assertEqual(self.http("POST", "/v1/sessions", {"email": invited, "password": PASSWORD})[0], 401)
        self.assertEqual(owner.http("DELETE", f"/v1/orgs/{org['id']}/members/{user['id']}")[0], 404)

    def test_session_stream_lives_and_ends_with_the_session(self):
        """A session's notification stream is re-checked like a key's (every 2 s): it stays
        open while the session lives and ends soon after the session does."""
        _, _, s = self.owner()
        stream = RawStream(self.c, s)
        try:
            self.assertEqual(stream.status, 200)
            self.assertIsNone(stream.seconds_until_closed(2.5), "the session's stream ended by itself")
            self.assertEqual(s.http("DELETE", "/v1/sessions/current")[0], 204)
            took = stream.seconds_until_closed(6)
            self.assertIsNotNone(took, "the stream outlived its session")
        finally:
            stream.close()

    def test_several_api_keys_revocable_one_by_one(self):
        org, _, owner = self.owner()
        initial = org["api_key"]
        status, k1, _ = owner.http("POST", f"/v1/orgs/{org['id']}/api-keys", {"name": "CI 배포"})
        self.assertEqual(status, 201, k1)
        status, k2, _ = self.http("POST", f"/v1/orgs/{org['id']}/api-keys", {"name": "crm"}, key=initial)
        self.assertEqual(status, 201, k2)
        status, listed, _ = owner.http("GET", f"/v1/orgs/{org['id']}/api-keys")
        self.assertEqual(sorted(i["name"] for i in listed["items"]), sorted(["initial", "CI 배포", "crm"]))
        for item in listed["items"]:
            self.assertNotIn("api_key", item)
            self.assertEqual(len(item["prefix"]), 13)
        self.assertTrue(all(i["last_used_at"] is None for i in listed["items"]
                            if i["name"] != "initial"), listed)
        for key in (initial, k1["api_key"], k2["api_key"]):
            self.assertEqual(self.http("GET", "/v1/whoami", key=key)[1]["org_id"], org["id"])
        used = {i["name"]: i["last_used_at"] for i in owner.http("GET", f"/v1/orgs/{org['id']}/api-keys")[1]["items"]}
        self.assertTrue(all(at and at.endswith(":00.000Z") for at in used.values()), used)
        mark = f"oim:apikey:{hashlib.sha256(k2['api_key'].encode()).hexdigest()}:used"
        self.assertGreater(int(self.c.redis_cli("TTL", mark)), 86400 * 300)
        self.assertEqual(owner.http("DELETE", f"/v1/orgs/{org['id']}/api-keys/{k1['id']}")[0], 204)
        self.assertEqual(self.http("GET", "/v1/whoami", key=k1["api_key"])[0], 401)
        self.assertEqual(self.http("GET", "/v1/whoami", key=k2["api_key"])[0], 200)
        initial_id = next(i["id"] for i in listed["items"] if i["name"] == "initial")
        self.assertEqual(self.http("DELETE", f"/v1/orgs/{org['id']}/api-keys/{initial_id}", key=k2["api_key"])[0], 204)
        self.assertEqual(self.http("GET", "/v1/whoami", key=initial)[0], 401)
        self.assertFalse(self.c.redis_cli("KEYS", f"oim:apikey:{hashlib.sha256(initial.encode()).hexdigest()}*"),
                         "the deleted key left its record or last-used mark")
        self.assertEqual(self.http("GET", "/v1/whoami", key=k2["api_key"])[0], 200)
        self.assertEqual(len(owner.http("GET", f"/v1/orgs/{org['id']}/api-keys")[1]["items"]), 1)
        self.assertEqual(owner.http("DELETE", f"/v1/orgs/{org['id']}/api-keys/{k1['id']}")[0], 404)
        other_org, _, other = self.owner()
        self.assertEqual(other.http("GET", f"/v1/orgs/{org['id']}/api-keys")[0], 403)
        self.assertEqual(self.http("GET", f"/v1/orgs/{org['id']}/api-keys", key=AGENCY)[0], 200)

    def test_agency_staff(self):
        address = unique_email("staff")
        body = {"email": address, "name": "운영 담당", "password": PASSWORD}
        status, user, _ = self.http("POST", "/v1/agency/staff", body, key=AGENCY)
        self.assertEqual((status, user["role"], user["email_verified"]), (201, "owner", True))
        self.assertEqual(self.http("POST", "/v1/agency/staff", body, key=AGENCY)[0], 409)
        staff = Session.sign_in(self.c, address)
        self.assertEqual(staff.body["org"]["kind"], "agency")
        org, _ = signup(self.c, "startup")          # pending self-registration
        status, approved, _ = staff.http("POST", f"/v1/orgs/{org['id']}/approve")
        self.assertEqual((status, approved["status"]), (200, "active"))
        self.assertEqual(staff.http("POST", "/v1/agency/staff", dict(body, email=unique_email()))[0], 403)
        self.assertEqual(self.http("POST", "/v1/agency/staff", dict(body, email=unique_email()),
                                   key=org["api_key"])[0], 403)

    def test_oimctl_people_commands(self):
        def ctl(*args, key=AGENCY, stdin=None, **env):
            out = subprocess.run([oimtest.binary("oimctl"), *args], input=stdin, capture_output=True,
                                 text=True, timeout=60, env=dict(os.environ, OIM_API_KEY=key or "",
                                 OIM_URL=f"http://127.0.0.1:{self.c.ports['http_port']}", **env))
            return out.returncode, out.stdout, out.stderr
        rc, text, _ = ctl("--help")
        for command in ("staff-add", "members list", "invitations create", "api-keys delete"):
            self.assertIn(command, text)
        address = unique_email("ctlstaff")
        rc, out, err = ctl("staff-add", "--email", address, "--name", "직원", stdin=PASSWORD + "\n")
        self.assertEqual(rc, 0, err)
        self.assertNotIn(PASSWORD, out)
        rc, out, err = ctl("staff-add", "--email", unique_email("ctl2"), "--name", "n",
                           OIM_STAFF_PASSWORD="another long password")
        self.assertEqual(rc, 0, err)
        Session.sign_in(self.c, address)
        org, _ = signup(self.c, "company", key=AGENCY)
        rc, out, err = ctl("members", "list", org["id"], key=org["api_key"])
        self.assertEqual((rc, len(json.loads(out)["items"])), (0, 1), err)
        rc, out, err = ctl("invitations", "create", org["id"], unique_email("ctlinv"), "--role", "owner",
                           key=org["api_key"])
        self.assertEqual((rc, json.loads(out)["role"]), (0, "owner"), err)
        rc, out, err = ctl("api-keys", "create", org["id"], "ctl", key=org["api_key"])
        created = json.loads(out)
        rc, out, err = ctl("api-keys", "delete", org["id"], created["id"], key=org["api_key"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.http("GET", "/v1/whoami", key=created["api_key"])[0], 401)
        rc, _, _ = ctl("members", "remove", org["id"], "usr_nope", key=org["api_key"])
        self.assertEqual(rc, 1)
        self.assertEqual(ctl("api-keys", "frobnicate", org["id"])[0], 2)

    # ---- org standing -------------------------------------------------------------------
    def test_pending_org_people_limited_like_its_key(self):
        org, address = signup(self.c, "startup")
        self.assertEqual(org["status"], "pending")
        s = Session.sign_in(self.c, address)
        self.assertEqual(s.body["org"]["status"], "pending")
        self.assertEqual(s.http("GET", "/v1/sessions/current")[0], 200)
        for method, path, body in (("GET", f"/v1/orgs/{org['id']}", None), ("GET", "/v1/whoami", None),
                                   ("POST", "/v1/saved-searches", {"type": "demand", "q": "x"}),
                                   ("GET", "/v1/notifications", None),
                                   ("PATCH", f"/v1/orgs/{org['id']}", {"description": "d"}),
                                   ("GET", f"/v1/orgs/{org['id']}/members", None),
                                   ("GET", "/v1/demands", None)):
            by_key = self.http(method, path, body, key=org["api_key"])
            by_session = s.http(method, path, body)
            self.assertEqual(by_session[0], by_key[0], f"{method} {path}: {by_session[1]}")
        self.assertEqual(s.http("DELETE", "/v1/sessions/current")[0], 204)

    def test_suspended_org_people_refused(self):
        org, address, s = self.owner()
        self.assertEqual(self.http("POST", f"/v1/orgs/{org['id']}/suspend", key=AGENCY)[0], 200)
        status, err, _ = self.http("POST", "/v1/sessions", {"email": address, "password": PASSWORD})
        self.assertEqual((status, err["error"]["code"]), (403, "org_suspended"))
        status, err, _ = s.http("POST", "/v1/demands", {"title": "t"})
        self.assertEqual((status, err["error"]["code"]), (403, "org_not_active"))
        self.assertEqual(s.http("GET", "/v1/sessions/current")[0], 403)
        self.assertEqual(s.http("GET", f"/v1/orgs/{org['id']}/members")[0], 403)


if __name__ == "__main__":
    unittest.main(verbosity=2)
