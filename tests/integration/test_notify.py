"""oim-notify end to end: real Redis, gateway and oim-notify; Events appended to oim:events as
the matcher appends them; a real webhook receiver that verifies every Standard Webhooks
signature independently (services/notify/tests/receiver.py); a real SMTP server (aiosmtpd);
a ZeroMQ SUB on the feed; SSE through the gateway. No fixed ports, no sleeps."""
import email
import email.policy
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_notify_util import (NOTIFY_TESTS, Notify, Receiver, SmtpServer,  # noqa: E402
                              new_id, webhook)
from oimtest import Cluster, proto_modules, wait_for  # noqa: E402
from test_sse import SSEReader  # noqa: E402

FAST = {
    "OIM_FEED_PORT": "0",
    "OIM_FEED_ADDRESS": "127.0.0.1",
    "OIM_WEBHOOK_RETRY_SCHEDULE": "0.2,0.2,0.2",
    "OIM_WEBHOOK_TIMEOUT_MS": "1000",
    "OIM_WEBHOOK_BREAKER_COOLDOWN_MS": "200",
    "OIM_EVENT_CLAIM_IDLE_MS": "1000",
    "OIM_DIGEST_INTERVAL_S": "2",
}


class NotifyCase(unittest.TestCase):
    env = {}

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.pb = proto_modules(self.tmp.name)
        self.receivers = []
        self.smtp = None
        self.c = Cluster(env=dict(FAST, **self.env))
        self.c.__enter__()
        self.c.start_redis()
        self.c.start_gateway()

    def start_notify(self, **env):
        self.c.start("notify", **env)
        self.c.wait_registered({"notify": 1})
        self.n = Notify(self.c, self.pb)

    def tearDown(self):
        if hasattr(self, "n"):
            self.n.redis.close()
        for r in self.receivers:
            r.stop()
        if self.smtp:
            self.smtp.stop()
        result = getattr(self._outcome, "result", None)
        failed = bool(result and any(t is self for t, _ in result.failures + result.errors))
        try:
            self.c.__exit__(AssertionError if failed else None, None, None)
        finally:
            self.tmp.cleanup()

    def receiver(self, secret):
        r = Receiver(secret)
        self.receivers.append(r)
        return r

    def deliveries(self, key, **query):
        q = "&".join(f"{k}={v}" for k, v in query.items())
        status, body, _ = self.c.http("GET", "/v1/deliveries" + ("?" + q if q else ""), key=key)
        self.assertEqual(status, 200, body)
        return body["deliveries"]


class WebhookInboxFeedTest(NotifyCase):
    def test_signed_webhook_inbox_feed_sse(self):
        import zmq
        self.start_notify()
        n, c = self.n, self.c
        org_a, key_a = n.org()
        org_b, key_b = n.org()
        rec = webhook(c, org_a, key_a, self.receiver, "/ok/a")
        # The feed: org_a's registered key; the gateway applies only org_a's topic for it.
        sub = c.curve_socket(zmq.Context.instance(), zmq.SUB, n.feed_key(org_a))
        sub.setsockopt(zmq.SUBSCRIBE, org_a.encode())
        sub.setsockopt(zmq.RCVTIMEO, 10000)
        sub.connect(f"tcp://127.0.0.1:{n.feed_port()}")
        c.wait_feed_subscribed(1)   # PUB/SUB joins asynchronously (the feed is best effort)
        sse = SSEReader(c.ports["http_port"], key_a)
        self.assertEqual(sse.status, 200)
        ids = n.publish([n.event(org_a, data={"title": f"배터리 {i}", "i": i}) for i in range(3)]
                        + [n.event(org_b)])
        mine = ids[:3]
        wait_for(lambda: rec.path("/ok/a")["verified"] == 3, 10, "3 verified webhooks")
        st = rec.path("/ok/a")
        self.assertEqual(st["rejected"], 0)
        self.assertEqual(sorted(st["ids"]), sorted(mine))      # webhook-id = notification id
        # ZeroMQ feed: topic = org, body = Notification with feed_sequence 1, 2, 3
        seqs = []
        for _ in range(3):
            topic, body = sub.recv_multipart()
            self.assertEqual(topic.decode(), org_a)
            note = self.pb["notify"].Notification()
            note.ParseFromString(body)
            seqs.append((note.feed_sequence, note.id))
        self.assertEqual([s for s, _ in seqs], [1, 2, 3])
        self.assertEqual([i for _, i in seqs], mine)
        sub.close(0)
        # SSE through the gateway
        seen = [sse.event() for _ in range(3)]
        self.assertEqual([e["event"] for e in seen], ["match.created"] * 3)
        self.assertEqual([json.loads(e["data"])["id"] for e in seen], mine)
        sse.close()
        sse = SSEReader(c.ports["http_port"], key_a, last_event_id=seen[0]["id"])   # resume
        self.assertEqual([sse.event()["id"] for _ in range(2)], [e["id"] for e in seen[1:]])
        sse.close()
        # inbox
        status, body, _ = c.http("GET", "/v1/notifications", key=key_a)
        self.assertEqual(status, 200, body)
        self.assertEqual([x["id"] for x in body["notifications"]], mine[::-1])
        self.assertEqual(body["unread_count"], 3)
        self.assertEqual(body["notifications"][0]["data"]["title"], "배터리 2")
        self.assertEqual(c.http("POST", f"/v1/notifications/{mine[0]}/read", key=key_b)[0], 404)
        status, one, _ = c.http("POST", f"/v1/notifications/{mine[0]}/read", key=key_a)
        self.assertEqual((status, one["read"]), (200, True))
        status, body, _ = c.http("GET", "/v1/notifications?unread=true", key=key_a)
        self.assertEqual([x["id"] for x in body["notifications"]], mine[:0:-1])
        self.assertEqual(body["unread_count"], 2)
        status, body, _ = c.http("GET", "/v1/notifications?limit=2", key=key_a)
        self.assertEqual(len(body["notifications"]), 2)
        status, body, _ = c.http("GET", f"/v1/notifications?limit=2&cursor={body['next_cursor']}", key=key_a)
        self.assertEqual([x["id"] for x in body["notifications"]], [mine[0]])
        self.assertTrue(body["notifications"][0]["read"])
        status, body, _ = c.http("GET", "/v1/notifications", key=key_b)
        self.assertEqual(len(body["notifications"]), 1)
        self.assertEqual(c.http("GET", f"/v1/notifications?org_id={org_a}", key=key_b)[0], 403)
        self.assertEqual(c.http("GET", "/v1/notifications?unread=maybe", key=key_a)[0], 400)
        # the delivery log: one 200 attempt each
        dl = self.deliveries(key_a)
        self.assertEqual(len(dl), 3)
        for d in dl:
            self.assertEqual((d["status"], d["attempts"], d["log"][0]["http_status"]), ("delivered", 1, 200))
        self.assertEqual(self.deliveries(key_b), [])
        # a replayed event changes nothing
        n.publish([n.event(org_a, ntf_id=mine[1])])
        wait_for(n.consumed, 10, "the replay to be consumed")
        status, body, _ = c.http("GET", "/v1/notifications", key=key_a)
        self.assertEqual(len(body["notifications"]), 3)
        self.assertEqual(len(self.deliveries(key_a)), 3)
        # a malformed entry is dropped, not fatal
        n.redis.cmd("XADD", "oim:events", "*", "e", b"\xff\xfe garbage")
        wait_for(n.consumed, 10, "the garbage to be consumed")
        # webhook API validation
        self.assertEqual(c.http("PUT", f"/v1/orgs/{org_a}/webhook", {"url": "ftp://x"}, key=key_a)[0], 422)
        self.assertEqual(c.http("PUT", f"/v1/orgs/{org_a}/webhook", {"url": rec.url("/ok/a"), "events": ["nope"]},
                                key=key_a)[0], 400)
        self.assertEqual(c.http("PUT", f"/v1/orgs/{org_b}/webhook", {"url": rec.url("/ok/a")}, key=key_a)[0], 403)


class EventBatchTest(NotifyCase):
    def test_event_batch_entries(self):
        """An oim:events entry "b" = EventBatch (as the matcher writes them): every event in it
        lands exactly once (a replayed id changes nothing), a batch larger than one ingest
        pipeline is handled whole, a garbage "b" entry is acknowledged and dropped."""
        self.start_notify()
        n, c = self.n, self.c
        org_a, key_a = n.org()
        org_b, key_b = n.org()

        def batch(events):
            b = self.pb["notify"].EventBatch()
            for _, raw in events:
                ev = b.events.add()
                ev.ParseFromString(raw)
            return b.SerializeToString()

        first = n.event(org_a, data={"i": 0})
        n.publish([first])
        wait_for(n.consumed, 10, "the single event to be consumed")
        more = [n.event(org_a, data={"i": 1}), n.event(org_b, data={"i": 2}),
                n.event(org_a, data={"i": 3})]
        replay = n.event(org_a, data={"i": 0}, ntf_id=first[0])      # already stored
        n.redis.cmd("XADD", "oim:events", "*", "b", batch([more[0], replay, more[1], more[2]]))
        wait_for(n.consumed, 10, "the batch to be consumed")
        status, body, _ = c.http("GET", "/v1/notifications", key=key_a)
        self.assertEqual(status, 200, body)
        self.assertEqual([x["id"] for x in body["notifications"]], [more[2][0], more[0][0], first[0]])
        self.assertEqual([x["feed_sequence"] for x in body["notifications"]], [3, 2, 1])
        self.assertEqual([x["data"]["i"] for x in body["notifications"]], [3, 1, 0])
        status, body, _ = c.http("GET", "/v1/notifications", key=key_b)
        self.assertEqual([x["id"] for x in body["notifications"]], [more[1][0]])
        # garbage, an empty batch, and a batch holding one malformed event: acknowledged, dropped
        bad = self.pb["notify"].Event(id="not-an-id", type="match.created", org_id=org_b)
        ok = n.event(org_b, data={"i": 4})
        n.redis.pipeline(("XADD", "oim:events", "*", "b", b"\xff\xfe garbage"),
                         ("XADD", "oim:events", "*", "b", b""),
                         ("XADD", "oim:events", "*", "b",
                          batch([(None, bad.SerializeToString()), ok])))
        wait_for(n.consumed, 10, "the garbage to be consumed")
        status, body, _ = c.http("GET", "/v1/notifications", key=key_b)
        self.assertEqual([x["id"] for x in body["notifications"]], [ok[0], more[1][0]])
        # one entry of 600 events (more than one ingest pipeline) next to single ones
        big = [n.event(org_a, data={"i": 10 + i}) for i in range(600)]
        singles = [n.event(org_b, data={"i": 1000 + i}) for i in range(3)]
        n.redis.pipeline(("XADD", "oim:events", "*", "e", singles[0][1]),
                         ("XADD", "oim:events", "*", "b", batch(big)),
                         ("XADD", "oim:events", "*", "e", singles[1][1]),
                         ("XADD", "oim:events", "*", "b", batch(big[:5] + singles[2:])))
        wait_for(n.consumed, 30, "the big batch to be consumed")
        inbox_a = n.redis.cmd("ZRANGE", f"oim:org:{org_a}:inbox", 0, -1, "WITHSCORES")
        ids_a = [x.decode() for x in inbox_a[::2]]
        self.assertEqual(len(ids_a), 603)
        self.assertEqual(ids_a, [first[0], more[0][0], more[2][0]] + [i for i, _ in big])
        self.assertEqual([int(x) for x in inbox_a[1::2]], list(range(1, 604)))     # gap-free
        inbox_b = n.redis.cmd("ZRANGE", f"oim:org:{org_b}:inbox", 0, -1)
        self.assertEqual(sorted(x.decode() for x in inbox_b),
                         sorted([more[1][0], ok[0]] + [i for i, _ in singles]))
        # more events in one read than one tick ingests (2,048): the rest stay pending and
        # are re-read, each event still stored once, in order
        org_c, _ = n.org()
        many = [n.event(org_c, data={"i": i}) for i in range(3000)]
        n.redis.pipeline(*[("XADD", "oim:events", "*", "b", batch(many[i:i + 600]))
                           for i in range(0, 3000, 600)])
        wait_for(n.consumed, 60, "3,000 events in 5 entries to be consumed")
        inbox_c = n.redis.cmd("ZRANGE", f"oim:org:{org_c}:inbox", 0, -1, "WITHSCORES")
        self.assertEqual([x.decode() for x in inbox_c[::2]], [i for i, _ in many])
        self.assertEqual([int(x) for x in inbox_c[1::2]], list(range(1, 3001)))


class EventCopiesTest(NotifyCase):
    def test_event_with_copies(self):
        """An Event with copies (as the matcher writes an event both sides of a match get) is
        delivered as one notification per recipient, each with its copy's id and the event's
        type and data; a replay creates nothing new; an invalid copy is dropped and counted
        while the other recipients still get theirs."""
        self.start_notify()
        n, c = self.n, self.c
        orgs = [n.org() for _ in range(3)]
        (org_a, key_a), (org_b, key_b), (org_c, key_c) = orgs
        notify = self.pb["notify"]

        def shared(org_id, copies, ntf_id=None, data=None):
            ev = notify.Event()
            ev.ParseFromString(n.event(org_id, data=data, ntf_id=ntf_id)[1])
            for cid, corg in copies:
                ev.copies.add(id=cid, org_id=corg)
            return ev

        def inbox(key):
            status, body, _ = c.http("GET", "/v1/notifications", key=key)
            self.assertEqual(status, 200, body)
            return [(x["id"], x["type"], x["data"]["i"], x["feed_sequence"])
                    for x in body["notifications"]]

        id_b, id_c = new_id("ntf"), new_id("ntf")
        ev = shared(org_a, [(id_b, org_b), (id_c, org_c)], data={"i": 1})
        n.redis.cmd("XADD", "oim:events", "*", "e", ev.SerializeToString())
        wait_for(n.consumed, 10, "the event with copies to be consumed")
        self.assertEqual(inbox(key_a), [(ev.id, "match.created", 1, 1)])
        self.assertEqual(inbox(key_b), [(id_b, "match.created", 1, 1)])
        self.assertEqual(inbox(key_c), [(id_c, "match.created", 1, 1)])
        # a replay, alone and in a batch: nothing new
        n.redis.pipeline(("XADD", "oim:events", "*", "e", ev.SerializeToString()),
                         ("XADD", "oim:events", "*", "b",
                          notify.EventBatch(events=[ev]).SerializeToString()))
        wait_for(n.consumed, 10, "the replays to be consumed")
        for key, ntf_id in ((key_a, ev.id), (key_b, id_b), (key_c, id_c)):
            self.assertEqual(inbox(key), [(ntf_id, "match.created", 1, 1)])
        # invalid copies (a bad id, a 65-byte org id) and an invalid event with a valid copy
        log_before = c.daemons["notify"][-1].log().count("event=invalid_event")
        good = shared(org_a, [("not-an-id", org_b), (new_id("ntf"), "o" * 65),
                              (new_id("ntf"), org_c)], data={"i": 2})
        bad = shared(org_a, [(new_id("ntf"), org_b)], ntf_id="not-an-id", data={"i": 3})
        n.redis.cmd("XADD", "oim:events", "*", "b",
                    notify.EventBatch(events=[good, bad]).SerializeToString())
        wait_for(n.consumed, 10, "the invalid copies to be consumed")
        self.assertEqual(inbox(key_a), [(good.id, "match.created", 2, 2),
                                        (ev.id, "match.created", 1, 1)])
        self.assertEqual(inbox(key_b), [(bad.copies[0].id, "match.created", 3, 2),
                                        (id_b, "match.created", 1, 1)])
        self.assertEqual(inbox(key_c), [(good.copies[2].id, "match.created", 2, 2),
                                        (id_c, "match.created", 1, 1)])
        log = c.daemons["notify"][-1].log()
        self.assertEqual(log.count("event=invalid_event"), log_before + 1, log)
        self.assertIn("events=6 invalid=3 action=dropped", log)


class TrimTest(NotifyCase):
    def test_acknowledged_events_trimmed(self):
        """oim:events is trimmed below what every consumer group still needs (here with no
        retention, OIM_EVENT_RETAIN_S=0): not while another group has not read the entries,
        then down to the last delivered entry once it has; the notifications stay."""
        self.start_notify(OIM_EVENT_RETAIN_S="0")
        n = self.n
        org, key = n.org()
        n.redis.cmd("XGROUP", "CREATE", "oim:events", "audit", "0")
        ids = n.publish([n.event(org, data={"i": i}) for i in range(30)])
        wait_for(n.consumed, 10, "the events to be consumed")
        time.sleep(2.5)                                 # trims run once a second
        self.assertEqual(n.redis.cmd("XLEN", "oim:events"), 30)     # "audit" read none
        read = n.redis.cmd("XREADGROUP", "GROUP", "audit", "a1", "COUNT", "10", "STREAMS",
                           "oim:events", ">")[0][1]     # 10 read, pending
        wait_for(lambda: n.redis.cmd("XLEN", "oim:events") == 30, 5, "nothing trimmed yet")
        time.sleep(2.5)
        self.assertEqual(n.redis.cmd("XLEN", "oim:events"), 30)     # its oldest is pending
        n.redis.cmd("XACK", "oim:events", "audit", read[0][0])
        wait_for(lambda: n.redis.cmd("XLEN", "oim:events") == 29, 5, "the first entry trimmed")
        n.redis.cmd("XACK", "oim:events", "audit", *[entry[0] for entry in read[1:]])
        wait_for(lambda: n.redis.cmd("XLEN", "oim:events") == 21, 5,
                 "the ten read trimmed but the last delivered")
        n.redis.cmd("XGROUP", "SETID", "oim:events", "audit", "$")
        wait_for(lambda: n.redis.cmd("XLEN", "oim:events") == 1, 5, "all but the last trimmed")
        status, body, _ = self.c.http("GET", "/v1/notifications?limit=100", key=key)
        self.assertEqual(status, 200, body)
        self.assertEqual(sorted(x["id"] for x in body["notifications"]), sorted(ids))


class RetryTest(NotifyCase):
    def test_retries_dead_letter_replay_timeouts_and_gone(self):
        self.start_notify()
        n, c = self.n, self.c
        orgs = {name: n.org() for name in ("flaky", "fail", "hang", "gone")}
        recs = {name: webhook(c, o, k, self.receiver, f"/{name}/" if name != "flaky" else "/flaky/2/x")
                for name, (o, k) in orgs.items()}
        ids = {name: n.publish([n.event(o)])[0] for name, (o, _) in orgs.items()}

        def one(name):
            dl = self.deliveries(orgs[name][1])
            return dl[0] if dl else None

        # 500, 500, then 200: delivered on the third attempt, all three logged
        wait_for(lambda: (one("flaky") or {}).get("status") == "delivered", 15, "flaky delivered")
        d = one("flaky")
        self.assertEqual([a["http_status"] for a in d["log"]], [500, 500, 200])
        self.assertEqual(d["notification_id"], ids["flaky"])
        self.assertEqual(set(recs["flaky"].path("/flaky/2/x")["ids"]), {ids["flaky"]})
        # 500 forever: four attempts, then the dead letter queue
        wait_for(lambda: (one("fail") or {}).get("status") == "dead", 15, "fail dead")
        d = one("fail")
        self.assertEqual([a["http_status"] for a in d["log"]], [500] * 4)
        self.assertEqual([x["id"] for x in self.deliveries(orgs["fail"][1], status="dead")], [d["id"]])
        self.assertEqual(self.deliveries(orgs["fail"][1], status="delivered"), [])
        # replay after the endpoint is fixed
        o, k = orgs["fail"]
        self.assertEqual(c.http("PUT", f"/v1/orgs/{o}/webhook", {"url": recs["fail"].url("/ok/fixed")}, key=k)[0], 200)
        status, body, _ = c.http("POST", f"/v1/deliveries/{d['id']}/retry", key=k)
        self.assertEqual(status, 202, body)
        self.assertEqual(c.http("POST", f"/v1/deliveries/{d['id']}/retry", key=orgs["gone"][1])[0], 404)
        wait_for(lambda: one("fail")["status"] == "delivered", 10, "replayed delivery")
        self.assertEqual(len(one("fail")["log"]), 5)
        self.assertEqual(recs["fail"].path("/ok/fixed")["ids"], [ids["fail"]])
        self.assertEqual(c.http("POST", f"/v1/deliveries/{d['id']}/retry", key=k)[0], 409)
        # a hanging endpoint: attempts time out (no HTTP status), then dead
        wait_for(lambda: (one("hang") or {}).get("status") == "dead", 20, "hang dead")
        for a in one("hang")["log"]:
            self.assertEqual(a["http_status"], 0)
            self.assertTrue(a["error"])
            self.assertGreaterEqual(a["latency_ms"], 900)
        # 410 disables the endpoint: status disabled, later events make no delivery
        wait_for(lambda: (one("gone") or {}).get("status") == "disabled", 10, "gone disabled")
        o, k = orgs["gone"]
        self.assertEqual(len(one("gone")["log"]), 1)
        n.publish([n.event(o)])
        wait_for(n.consumed, 10, "event for the disabled endpoint")
        self.assertEqual(len(self.deliveries(k)), 1)
        dlv = one("gone")["id"]
        status, body, _ = c.http("POST", f"/v1/deliveries/{dlv}/retry", key=k)
        self.assertEqual((status, body["error"]["code"]), (409, "endpoint_disabled"))
        status, body, _ = c.http("PUT", f"/v1/orgs/{o}/webhook", {"url": recs["gone"].url("/ok/back")}, key=k)
        self.assertEqual((status, body["disabled"]), (200, False))
        self.assertEqual(c.http("POST", f"/v1/deliveries/{dlv}/retry", key=k)[0], 202)
        wait_for(lambda: recs["gone"].path("/ok/back")["verified"] == 1, 10, "re-enabled endpoint")


class IsolationTest(NotifyCase):
    env = {"OIM_WEBHOOK_TIMEOUT_MS": "10000", "OIM_WEBHOOK_RETRY_SCHEDULE": "5"}

    def test_hanging_endpoint_does_not_delay_others(self):
        self.start_notify()
        n, c = self.n, self.c
        hang_org, hang_key = n.org()
        ok_org, ok_key = n.org()
        hang = webhook(c, hang_org, hang_key, self.receiver, "/hang/")
        ok = webhook(c, ok_org, ok_key, self.receiver, "/ok/")
        n.publish([n.event(hang_org) for _ in range(100)])
        wait_for(lambda: hang.path("/hang/")["received"] >= 8, 10, "the hanging endpoint to hold its slots")
        start = time.monotonic()
        ids = n.publish([n.event(ok_org) for _ in range(50)])
        wait_for(lambda: ok.path("/ok/")["verified"] == 50, 10, "the healthy endpoint's deliveries")
        took = time.monotonic() - start
        self.assertEqual(sorted(ok.path("/ok/")["ids"]), sorted(ids))
        self.assertLess(took, 3.0, "a hanging endpoint delayed another")
        self.assertEqual(hang.path("/hang/")["received"], 8)    # per-endpoint concurrency limit


class PreferencesTest(NotifyCase):
    def test_preferences_and_event_filter(self):
        self.start_notify()
        n, c = self.n, self.c
        org, key = n.org()
        rec = webhook(c, org, key, self.receiver, "/ok/p")
        prefs = {"match.created": {"channels": ["inbox"]},
                 "demand.closed": {"channels": ["webhook"], "digest": "instant"}}
        status, body, _ = c.http("PUT", f"/v1/orgs/{org}/preferences", prefs, key=key)
        self.assertEqual(status, 200, body)
        self.assertEqual({t["type"]: t["channels"] for t in body["types"]},
                         {"match.created": ["inbox"], "demand.closed": ["webhook"]})
        status, got, _ = c.http("GET", f"/v1/orgs/{org}/preferences", key=key)
        self.assertEqual((status, {t["type"]: (t["channels"], t["digest"]) for t in got["types"]}),
                         (200, {t["type"]: (t["channels"], t["digest"]) for t in body["types"]}))
        status, hook, _ = c.http("GET", f"/v1/orgs/{org}/webhook", key=key)
        self.assertEqual((status, hook["url"]), (200, rec.url("/ok/p")))
        self.assertTrue(hook["secret"].startswith("whsec_"))
        other, other_key = n.org()
        self.assertEqual(c.http("GET", f"/v1/orgs/{other}/webhook", key=other_key)[0], 404)
        self.assertEqual(c.http("GET", f"/v1/orgs/{org}/webhook", key=other_key)[0], 403)
        bad = c.http("PUT", f"/v1/orgs/{org}/preferences", {"match.created": {"channels": ["sms"]}}, key=key)
        self.assertEqual((bad[0], bad[1]["error"]["field"]), (400, "match.created.channels[0]"))
        bad = c.http("PUT", f"/v1/orgs/{org}/preferences",
                     {"types": [{"type": "match.created", "digest": "weekly"}]}, key=key)
        self.assertEqual((bad[0], bad[1]["error"]["field"]), (400, "types[0].digest"))
        inbox_only, hook_only, default = n.publish([n.event(org, "match.created"), n.event(org, "demand.closed"),
                                                    n.event(org, "interest.received")])
        wait_for(lambda: rec.path("/ok/p")["verified"] == 2, 10, "two webhooks")
        wait_for(n.consumed, 10, "events consumed")
        self.assertEqual(sorted(rec.path("/ok/p")["ids"]), sorted([hook_only, default]))
        status, body, _ = c.http("GET", "/v1/notifications", key=key)
        self.assertEqual([x["id"] for x in body["notifications"]], [default, inbox_only])
        self.assertEqual([x["feed_sequence"] for x in body["notifications"]], [2, 1])
        # the endpoint's own event filter
        status, body, _ = c.http("PUT", f"/v1/orgs/{org}/webhook",
                                 {"url": rec.url("/ok/p"), "events": ["match.connected"]}, key=key)
        self.assertEqual((status, body["events"]), (200, ["match.connected"]))
        filtered, wanted = n.publish([n.event(org, "interest.received"), n.event(org, "match.connected")])
        wait_for(lambda: rec.path("/ok/p")["verified"] == 3, 10, "the filtered webhook")
        self.assertNotIn(filtered, rec.path("/ok/p")["ids"])
        self.assertIn(wanted, rec.path("/ok/p")["ids"])


class EmailTest(NotifyCase):
    def test_instant_and_digest_email(self):
        maildir = os.path.join(self.tmp.name, "mail")
        os.mkdir(maildir)
        self.smtp = SmtpServer(maildir)
        self.start_notify(OIM_SMTP_URL=f"smtp://127.0.0.1:{self.smtp.port}",
                          OIM_SMTP_FROM="OI 마켓 <noreply@oimarket.test>")
        n, c = self.n, self.c
        org, key = n.org(name="한빛전자", email="ops@hanbit.test")
        prefs = {"match.created": {"channels": ["email", "inbox"], "digest": "instant"},
                 "*": {"channels": ["email", "inbox"], "digest": "daily"}}
        self.assertEqual(c.http("PUT", f"/v1/orgs/{org}/preferences", prefs, key=key)[0], 200)
        n.publish([n.event(org, "match.created", {"title": "이차전지 재활용 공정 개선"})])
        wait_for(lambda: len(self.smtp.messages()) == 1, 15, "the instant e-mail")
        path = os.path.join(maildir, self.smtp.messages()[0])
        run = subprocess.run(["/usr/bin/python3", os.path.join(NOTIFY_TESTS, "check_email.py"), path,
                              "[OI 마켓] 새 매칭: 이차전지 재활용 공정 개선", "이차전지 재활용 공정 개선"],
                             capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stderr)
        with open(path.replace(".eml", ".json")) as f:
            env = json.load(f)
        self.assertEqual((env["mail_from"], env["rcpt_tos"]), ("noreply@oimarket.test", ["ops@hanbit.test"]))
        # three of other types, in one atomic append: one digest, grouped by type
        n.publish([n.event(org, "interest.received", {"title": "관심 표명 1"}),
                   n.event(org, "interest.received", {"title": "관심 표명 2"}),
                   n.event(org, "demand.closed", {"title": "수요 마감"})], atomic=True)
        wait_for(lambda: len(self.smtp.messages()) == 2, 15, "the digest e-mail")
        path = os.path.join(maildir, self.smtp.messages()[1])
        with open(path, "rb") as f:
            msg = email.message_from_bytes(f.read(), policy=email.policy.default)
        self.assertIn("일일 알림 요약 (3건)", str(msg["subject"]))
        text = msg.get_body(("plain",)).get_content()
        for title in ("관심 표명 1", "관심 표명 2", "수요 마감"):
            self.assertIn(title, text)
        day = time.strftime("%Y-%m-%d", time.gmtime())
        run = subprocess.run(["/usr/bin/python3", os.path.join(NOTIFY_TESTS, "check_email.py"), path,
                              f"[OI 마켓] {day} 일일 알림 요약 (3건)", "관심 표명 1", "수요 마감"],
                             capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stderr)


class CrashTest(NotifyCase):
    env = {"OIM_WEBHOOK_LEASE_MS": "3000"}

    def test_kill9_during_burst(self):
        self.start_notify()
        n, c = self.n, self.c
        org, key = n.org()
        rec = webhook(c, org, key, self.receiver, "/ok/burst")
        events = [n.event(org, data={"i": i}) for i in range(1000)]
        ids = []
        for i in range(0, 1000, 100):
            ids += n.publish(events[i:i + 100])
            if i == 300:
                wait_for(lambda: rec.path("/ok/burst")["received"] >= 100, 20, "deliveries under way")
                c.kill("notify")                     # SIGKILL mid-burst
        c.restart("notify")
        wait_for(lambda: len(set(rec.path("/ok/burst")["ids"])) == 1000, 90, "all 1,000 delivered")
        st = rec.path("/ok/burst")
        self.assertEqual(set(st["ids"]), set(ids))
        self.assertEqual(st["rejected"], 0)
        dups = len(st["ids"]) - 1000
        print(f"\nkill -9 burst: 1000 notifications, {len(st['ids'])} webhooks received, {dups} duplicates "
              "(each with the same webhook-id)", file=sys.stderr)
        wait_for(lambda: len(self.deliveries(key, status="delivered", limit=200)) == 200, 20, "deliveries recorded")
        status, body, _ = c.http("GET", "/v1/notifications?limit=1", key=key)
        self.assertEqual(body["notifications"][0]["feed_sequence"], 1000)   # one per event, gap-free


if __name__ == "__main__":
    unittest.main(verbosity=2)
