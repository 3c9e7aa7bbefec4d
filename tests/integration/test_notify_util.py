"""Helpers for oim-notify's integration tests and benchmark: a tiny RESP client (binary
values, pipelining), ids in OI Market's shape, organizations and API keys written straight
into Redis (as the registry would), Events appended to oim:events exactly as the matcher does,
and the engine's test servers (services/notify/tests/receiver.py, smtp_server.py)."""
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from oimtest import SOURCE_DIR, Resp, wait_for  # noqa: E402

NOTIFY_TESTS = os.path.join(SOURCE_DIR, "services", "notify", "tests")
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_last_us = [0]


def new_id(prefix):
    """prefix_ + 13 base32 chars of the time in µs + 8 random ones (common/oim_id.h)."""
    us = max(int(time.time() * 1e6), _last_us[0] + 1)
    _last_us[0] = us
    t = "".join(ALPHABET[(us >> (5 * i)) & 31] for i in range(12, -1, -1))
    return f"{prefix}_{t}" + "".join(secrets.choice(ALPHABET) for _ in range(8))

    def close(self):
        self.file.close()
        self.sock.close()



def stop_helper(proc):
    """Stops a helper server started with stdout=PIPE: SIGTERM, then SIGKILL after 5 s."""
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()

class Notify:
    """Organizations, keys and events for one cluster."""

    def __init__(self, cluster, pb):
        self.c, self.pb = cluster, pb
        self.redis = Resp(cluster.redis_sock)

    def org(self, name="테스트 주식회사", email=None, role="company"):
        """Writes an Organization and an API key for it; returns (org_id, key)."""
        org_id = new_id("org")
        reg, common = self.pb["registry"], self.pb["common"]
        org = reg.Organization(id=org_id, kind="company", name=name, email=email or "",
                               status="active", version=1)
        key = "key_" + secrets.token_hex(12)
        role_value = {"company": common.ROLE_COMPANY, "agency": common.ROLE_AGENCY}[role]
        rec = reg.ApiKeyRecord(key_id="key_" + org_id, role=role_value, org_id=org_id)
        digest = hashlib.sha256(key.encode()).hexdigest()
        self.redis.pipeline(*[("SET", f"oim:org:{org_id}", org.SerializeToString()),
                             ("SET", f"oim:apikey:{digest}", rec.SerializeToString())])
        return org_id, key

    def event(self, org_id, type_="match.created", data=None, ntf_id=None):
        ntf_id = ntf_id or new_id("ntf")
        ev = self.pb["notify"].Event(id=ntf_id, type=type_, org_id=org_id,
                                     created_at=time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                                     data_json=json.dumps(data or {"match_id": new_id("mat"), "title": "배터리 재활용 기술"},
                                                          ensure_ascii=False))
        return ntf_id, ev.SerializeToString()

    def publish(self, events, atomic=False):
        """XADDs [(ntf_id, bytes)] to oim:events (in one MULTI when atomic)."""
        cmds = [("XADD", "oim:events", "*", "e", b) for _, b in events]
        if atomic:
            cmds = [("MULTI",)] + cmds + [("EXEC",)]
        self.redis.pipeline(*cmds)
        return [i for i, _ in events]

    def consumed(self):
        """True when group "notify" has read and acknowledged every entry of oim:events."""
        groups = self.redis.cmd("XINFO", "GROUPS", "oim:events")
        for g in groups:
            info = dict(zip(g[0::2], g[1::2]))
            if info[b"name"] == b"notify":
                return info[b"pending"] == 0 and info[b"lag"] == 0
        return False

    def feed_port(self):
        """The gateway's public feed port (the gateway hosts the feed; notify publishes into
        its intake)."""
        return self.c.ports["feed_port"]

    def feed_key(self, org_id):
        """A CURVE keypair registered as org_id's feed key (as PUT /v1/orgs/{id}/feed-key
        stores it)."""
        return self.c.register_curve_key("feed", org_id=org_id)


class Receiver:
    """services/notify/tests/receiver.py for one secret."""

    def __init__(self, secret):
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(NOTIFY_TESTS, "receiver.py"), secret],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("PORT"), line
        self.port = int(line.split()[1])

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stats(self):
        with urllib.request.urlopen(self.url("/stats"), timeout=10) as r:
            return json.loads(r.read())

    def path(self, path):
        return self.stats().get(path, {"received": 0, "verified": 0, "rejected": 0, "ids": [], "answered": []})

    def stop(self):
        stop_helper(self.proc)


class SmtpServer:
    """services/notify/tests/smtp_server.py writing messages into outdir."""

    def __init__(self, outdir):
        self.outdir = outdir
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(NOTIFY_TESTS, "smtp_server.py"), outdir],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        assert line.startswith("PORT"), line
        self.port = int(line.split()[1])

    def messages(self):
        return sorted((f for f in os.listdir(self.outdir) if f.endswith(".eml")), key=lambda f: int(f[:-4]))

    def stop(self):
        stop_helper(self.proc)


def webhook(c, org_id, key, receiver_factory, path="/ok/", events=None):
    """PUT the org's webhook (first to a placeholder to learn the secret, then to a
    receiver started with that secret: the secret survives a PUT). Returns the receiver."""
    body = {"url": "http://127.0.0.1:9/placeholder"}
    status, reply, _ = c.http("PUT", f"/v1/orgs/{org_id}/webhook", body, key=key)
    assert status == 200, (status, reply)
    assert reply["secret"].startswith("whsec_"), reply
    receiver = receiver_factory(reply["secret"])
    body = {"url": receiver.url(path)}
    if events is not None:
        body["events"] = events
    status, reply2, _ = c.http("PUT", f"/v1/orgs/{org_id}/webhook", body, key=key)
    assert status == 200 and reply2["secret"] == reply["secret"], reply2
    return receiver
