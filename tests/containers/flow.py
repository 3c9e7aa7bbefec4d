#!/usr/bin/env python3
"""The whole flow, across containers — driven by deploy/compose-test.sh against a running
compose project (the stack + the `receiver` service of deploy/compose-test.override.yml).

  flow.py flow   --project P --key AGENCY_KEY --state FILE
      Through the API: a company and a startup (agency key), the company's webhook
      (PUT /v1/orgs/{id}/webhook) pointed at http://receiver:8090/hook/slow/400/company and its secret
      handed to the receiver, a demand that fits the startup → its match appears in
      GET /v1/demands/{id}/matches with an explanation, and the receiver container gets the
      signed match.created webhook (verified there). Writes ids and keys to FILE.

  flow.py stream --project P --key AGENCY_KEY --state FILE
      A publisher (POST /v1/publishers) streams demand events over HTTP
      (POST /v1/events/demands, batches, a batch that got no 200 is re-sent as is) while each
      daemon and Redis in turn is `docker kill`ed (SIGKILL to the container's init and with it
      the daemon; Docker treats that as a manual stop, so the restart policy does NOT restart
      it) and brought back with `docker start`. Afterwards: every acknowledged event's demand
      exists exactly once (per external id, with the acknowledged id), each has its match, and
      the receiver got a verified match.created webhook for every match — one webhook-id per
      match; repeats only with the same webhook-id (at-least-once).

  flow.py curve  --project P --key AGENCY_KEY --state FILE --keys DIR
      The ZeroMQ ports as the agency deploys them, CURVE on (DIR: deploy/stack.sh's key
      directory; only clients/gateway.cert, the gateway's public key, is read). A publisher
      registered with its CURVE public key (POST /v1/publishers curve_public_key) sends
      IngestBatches over the published ingest port and gets them acknowledged; the company and
      the startup each register a feed key (PUT /v1/orgs/{id}/feed-key) and their SUB sockets
      on the published feed port receive their own organisation's notifications only (each
      also asks for the other's topic and for "": the server drops those). A plain socket
      and a CURVE socket with an unregistered key get nothing on either port: no ack for a
      batch carrying the publisher's valid API key, no notification.

The flow/stream/persisted phases need only the standard library; curve needs python3-zmq and
python3-protobuf (Debian's /usr/bin/python3) and protoc. Talks to the gateway's published
ports (re-read after the gateway container restarts, as its ephemeral host port may change)
and to the receiver's.
"""
import os
import argparse
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

T0 = time.monotonic()
FORGED = 1  # the one forged webhook the flow phase sends to check that the receiver verifies


def log(*a):
    print(f"flow [{time.monotonic() - T0:6.1f}s]:", *a, file=sys.stderr, flush=True)


class Fail(Exception):
    pass


def docker(*args, check=True):
    r = subprocess.run(["docker", *args], capture_output=True, text=True)
    if check and r.returncode:
        raise Fail(f"docker {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout.strip()


class Stack:
    def __init__(self, project, key):
        self.project, self.key = project, key
        self._gw = None

    def containers(self, service):
        out = docker("ps", "-aq", "--no-trunc", "--filter", f"label=com.docker.compose.project={self.project}",
                     "--filter", f"label=com.docker.compose.service={service}")
        return sorted(out.split())

    def port(self, service, port):
        ids = self.containers(service)
        if not ids:
            raise Fail(f"no {service} container")
        out = docker("port", ids[0], str(port), check=False)
        return out.splitlines()[0].rsplit(":", 1)[1] if out else None

    def gateway(self, refresh=False):
        if refresh or not self._gw:
            p = self.port("gateway", 8080)
            self._gw = f"http://127.0.0.1:{p}" if p else None
        return self._gw

    def http(self, method, path, body=None, key=None, timeout=10, base=None):
        """(status, json or text). status 0 = no connection (gateway down)."""
        base = base or self.gateway()
        if not base:
            self.gateway(refresh=True)
            return 0, "no gateway port"
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if key is not False:
            req.add_header("Authorization", f"Bearer {key or self.key}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        except (OSError, urllib.error.URLError) as e:
            if base is self._gw:
                self.gateway(refresh=True)
            return 0, str(e)
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def must(self, want, method, path, body=None, key=None):
        status, reply = self.http(method, path, body, key)
        if status not in ((want,) if isinstance(want, int) else want):
            raise Fail(f"{method} {path}: {status} {str(reply)[:400]}")
        return reply

    def receiver(self):
        return f"http://127.0.0.1:{self.port('receiver', 8090)}"

    def receiver_stats(self):
        status, stats = self.http("GET", "/stats", key=False, base=self.receiver())
        if status != 200:
            raise Fail(f"receiver /stats: {status} {stats}")
        return stats


def wait_for(what, fn, timeout, interval=0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise Fail(f"timed out after {timeout} s waiting for {what}")


STARTUP = {"kind": "startup", "name": "ReCell", "name_en": "ReCell",
           "description": "We recycle lithium-ion batteries from electric vehicles and recover "
                          "cathode metals (lithium, cobalt, nickel).",
           "tags": ["battery", "recycling", "lithium"], "industries": ["C26"], "region": "KR-11",
           "stage": "seed", "email": "hello@recell.example"}
COMPANY = {"kind": "company", "name": "Hanbit Motors", "description": "Electric vehicle maker.",
           "industries": ["C26"], "region": "KR-41", "email": "oi@hanbit.example"}


def demand_fields(n):
    return {"title": f"EV battery recycling partner #{n}",
            "description": "Recover lithium and cobalt from used lithium-ion EV batteries; "
                           "battery recycling pilot with a startup.",
            "tags": ["battery", "recycling"], "industries": ["C26"], "regions": ["KR-11"],
            "stages": ["seed", "series-a"], "collaboration": ["poc"]}


def match_deliveries(stats):
    """{demand_id: set(webhook-id)} over the verified match.created webhooks."""
    out = {}
    for d in stats["deliveries"]:
        body = d.get("body") or {}
        if body.get("type") != "match.created":
            continue
        if body.get("id") != d["id"]:
            raise Fail(f"webhook-id {d['id']} is not the notification id {body.get('id')}")
        out.setdefault((body.get("data") or {}).get("demand_id"), set()).add(d["id"])
    return out


def phase_flow(s, args):
    company = s.must((200, 201), "POST", "/v1/orgs", COMPANY)
    startup = s.must((200, 201), "POST", "/v1/orgs", STARTUP)
    for o in (company, startup):
        if o.get("status") != "active" or not o.get("api_key"):
            raise Fail(f"organization created by the agency is not active with a key: {o}")
    log(f"company {company['id']}, startup {startup['id']} created")
    hook = s.must(200, "PUT", f"/v1/orgs/{company['id']}/webhook",
                  {"url": "http://receiver:8090/hook/slow/400/company", "events": ["match.created"]},
                  key=company["api_key"])
    secret = hook.get("secret", "")
    if not secret.startswith("whsec_"):
        raise Fail(f"webhook reply without a whsec_ secret: {hook}")
    st, r = s.http("POST", "/secret", secret.encode(), key=False, base=s.receiver())
    if st != 200:
        raise Fail(f"receiver refused the secret: {st} {r}")
    log("webhook set to http://receiver:8090/hook/slow/400/company; receiver holds its secret")
    # The receiver does verify: a forged signature is refused (and counted: FORGED below).
    fake = {"webhook-id": "msg_forged", "webhook-timestamp": str(int(time.time())),
            "webhook-signature": "v1,bm90IGEgc2lnbmF0dXJl", "Content-Type": "application/json"}
    req = urllib.request.Request(s.receiver() + "/hook/company", data=b'{"type":"match.created"}',
                                 headers=fake, method="POST")
    try:
        code = urllib.request.urlopen(req, timeout=5).status
    except urllib.error.HTTPError as e:
        code = e.code
    if code != 400:
        raise Fail(f"the receiver accepted a forged signature ({code})")
    demand = s.must((200, 201), "POST", "/v1/demands", demand_fields(0), key=company["api_key"])
    did = demand["id"]
    log(f"demand {did} posted; waiting for its match")

    def match():
        st, body = s.http("GET", f"/v1/demands/{did}/matches", key=company["api_key"])
        if st in (404, 501) and time.monotonic() - t_post > 10:
            raise Fail(f"GET /v1/demands/{did}/matches: {st} {body} (matcher not there?)")
        if st != 200:
            return None
        return [m for m in body.get("items", []) if m.get("startup_id") == startup["id"]]
    t_post = time.monotonic()
    m = wait_for(f"the match of {did} with {startup['id']} (GET /v1/demands/{did}/matches)", match, 60)[0]
    factors = [x.get("factor") for x in m.get("explanation", [])]
    for f in ("text", "tags", "industry", "region", "stage"):
        if f not in factors:
            raise Fail(f"match explanation lacks factor {f}: {m}")
    total = sum(x["contribution"] for x in m["explanation"])
    if not (0 < m["score"] <= 1 and abs(total - m["score"]) < 1e-6 and m["state"] == "suggested"):
        raise Fail(f"match not per SPEC §2 (score, contributions, state): {m}")
    log(f"match {m['id']} score {m['score']:.3f} after {time.monotonic() - t_post:.1f} s; "
        "waiting for the signed webhook in the receiver container")
    got = wait_for(f"match.created webhook for {did} in the receiver",
                   lambda: match_deliveries(s.receiver_stats()).get(did), 60)
    stats = s.receiver_stats()
    body = next(d["body"] for d in stats["deliveries"] if d["id"] in got)
    if body["data"].get("id") != m["id"] or body["org_id"] != company["id"]:
        raise Fail(f"webhook is not about match {m['id']} for {company['id']}: {body}")
    if stats["rejected"] != FORGED:
        raise Fail(f"receiver rejected {stats['rejected'] - FORGED} webhook(s) from notify (bad signature)")
    log(f"signed match.created webhook {sorted(got)[0]} verified by the receiver container "
        f"{time.monotonic() - t_post:.1f} s after the demand")
    with open(args.state, "w") as f:
        json.dump({"company": company, "startup": startup, "demand": did, "match": m["id"]}, f)


def healthy(s, cid):
    st = docker("inspect", "-f", "{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}", cid)
    return st == "running/healthy"


def phase_stream(s, args):
    with open(args.state) as f:
        st = json.load(f)
    company, startup = st["company"], st["startup"]
    pub = s.must((200, 201), "POST", "/v1/publishers",
                 {"source_system": "compose-test", "name": "Compose test publisher"})
    pkey = pub["api_key"]
    acked = {}          # external_id -> demand_id
    sent = {"batches": 0, "resends": 0, "events": 0}
    stop = threading.Event()
    errors = []

    def publisher():
        n = 0
        try:
            while not stop.is_set():
                batch = [{"external_id": f"ev-{n + i}", "sequence": 1, "op": "upsert",
                          "org_ref": company["id"], "occurred_at": "2026-11-30T00:00:00Z",
                          "demand": demand_fields(n + i + 1)} for i in range(args.batch)]
                n += args.batch
                sent["batches"] += 1
                tries = 0
                while True:  # re-send until acknowledged (200), even after stop is set
                    code, body = s.http("POST", "/v1/events/demands", batch, key=pkey, timeout=15)
                    if code == 200:
                        break
                    tries += 1
                    sent["resends"] += 1
                    if tries > 600:
                        raise Fail(f"batch not acknowledged after {tries} tries: {code} {body}")
                    time.sleep(0.2)
                for e, r in zip(batch, body["results"]):
                    if r.get("status") not in ("created", "duplicate") or not r.get("demand_id"):
                        raise Fail(f"event {e['external_id']}: {r}")
                    if acked.setdefault(e["external_id"], r["demand_id"]) != r["demand_id"]:
                        raise Fail(f"{e['external_id']} acknowledged as two demands")
                sent["events"] += len(batch)
                time.sleep(args.interval)
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    th = threading.Thread(target=publisher, daemon=True)
    th.start()
    time.sleep(3)
    for svc in args.kill:
        if errors:
            break
        cid = s.containers(svc)[0]
        t = time.monotonic()
        before = len(acked)
        docker("kill", cid)  # SIGKILL; a manual stop for Docker: no automatic restart
        time.sleep(1)
        docker("start", cid)
        wait_for(f"{svc} healthy after docker kill + docker start", lambda: healthy(s, cid), 120)
        s.gateway(refresh=True)
        log(f"docker kill {svc} ({cid[:12]}) → start → healthy in {time.monotonic() - t:.1f} s; "
            f"{len(acked) - before} events acknowledged meanwhile")
        time.sleep(2)
    time.sleep(2)
    stop.set()
    th.join(120)
    if errors:
        raise errors[0]
    if th.is_alive():
        raise Fail("publisher still stuck on an unacknowledged batch")
    log(f"stream done: {sent['events']} events acknowledged in {sent['batches']} batches, "
        f"{sent['resends']} re-sends")

    # 1. every acknowledged event's demand exists exactly once
    seen = {}
    cursor = None
    while True:
        q = f"/v1/demands?org_id={company['id']}&limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = s.must(200, "GET", q)
        for d in page["items"]:
            ext = (d.get("source") or {}).get("external_id")
            if ext:
                seen.setdefault(ext, []).append(d["id"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    bad = {e: (acked[e], seen.get(e)) for e in acked if seen.get(e) != [acked[e]]}
    if bad:
        raise Fail(f"{len(bad)} acknowledged events not present exactly once, e.g. {list(bad.items())[:5]}")
    log(f"all {len(acked)} acknowledged demands present exactly once ({len(seen)} from the source)")

    # 2. each has its match; 3. each match has its webhook, one webhook-id per match
    want = set(acked.values()) | {st["demand"]} | set(st.get("more_demands", []))

    def matched():
        code, body = s.http("GET", f"/v1/orgs/{startup['id']}/matches", key=startup["api_key"], timeout=30)
        if code != 200:
            return None
        per = {}
        for m in body["items"]:
            per.setdefault(m["demand_id"], []).append(m["id"])
        missing = want - per.keys()
        dup = {d: v for d, v in per.items() if len(v) > 1}
        if dup:
            raise Fail(f"demands with more than one match for the startup: {list(dup.items())[:5]}")
        matched.missing = missing
        return per if not missing else None
    matched.missing = want
    try:
        per = wait_for("a match for every demand", matched, args.settle, interval=2)
    except Fail:
        raise Fail(f"{len(matched.missing)} of {len(want)} demands have no match, "
                   f"e.g. {sorted(matched.missing)[:5]}")
    log(f"every demand ({len(want)}) has exactly one match with the startup")

    def delivered():
        stats = s.receiver_stats()
        by = match_deliveries(stats)
        delivered.missing = want - by.keys()
        delivered.stats, delivered.by = stats, by
        return not delivered.missing
    delivered.missing = want
    try:
        wait_for("a match.created webhook for every match", delivered, args.settle, interval=2)
    except Fail:
        raise Fail(f"{len(delivered.missing)} of {len(want)} matches have no webhook in the receiver, "
                   f"e.g. {sorted(delivered.missing)[:5]}")
    stats, by = delivered.stats, delivered.by
    several = {d: ids for d, ids in by.items() if len(ids) > 1}
    if several:
        raise Fail(f"matches notified under several webhook-ids: {list(several.items())[:5]}")
    wrong = [d for d in by if d not in want]
    if wrong:
        raise Fail(f"webhooks for demands the test did not make: {wrong[:5]}")
    for d, ids in by.items():
        (wid,) = ids
        body = next(x["body"] for x in stats["deliveries"] if x["id"] == wid)
        if body["data"]["id"] not in per[d]:
            raise Fail(f"webhook {wid} names match {body['data']['id']}, not {per[d]}")
    if stats["rejected"] != FORGED:
        raise Fail(f"receiver rejected {stats['rejected'] - FORGED} webhook(s) from notify (bad signature)")
    repeats = sum(d["count"] - 1 for d in stats["deliveries"])
    log(f"receiver: {len(by)} matches, each one match.created webhook-id, all verified; "
        f"{repeats} repeated deliveries (same webhook-id, at-least-once), 0 rejected")


def phase_persisted(s, args):
    """After `down` + `up`: the flow's organizations, demand and match are still there."""
    with open(args.state) as f:
        st = json.load(f)
    for o in (st["company"], st["startup"]):
        s.must(200, "GET", f"/v1/orgs/{o['id']}")
    s.must(200, "GET", f"/v1/demands/{st['demand']}")
    got = wait_for("the flow's match after down/up", lambda: (lambda r: r[0] == 200 and r[1])(
        s.http("GET", f"/v1/demands/{st['demand']}/matches")), 30)
    if st["match"] not in [m["id"] for m in got.get("items", [])]:
        raise Fail(f"match {st['match']} lost across down/up: {got}")
    code, body = s.http("GET", f"/v1/orgs/{st['startup']['id']}/matches", key=st["startup"]["api_key"])
    n = len(body["items"]) if code == 200 else code
    log(f"after down/up: organizations, demand {st['demand']}, match {st['match']} and "
        f"{n} startup matches still there; the startup's key still works")


def _curve_setup(args):
    """The ZeroMQ side of the test: pyzmq, the proto modules, the harness' CURVE helpers."""
    here = os.path.dirname(os.path.abspath(__file__))
    for sub in ("lib", "integration"):
        sys.path.insert(0, os.path.join(here, "..", sub))
    import tempfile
    import zmq
    from oimtest import curve_client, proto_modules
    from publisher import Publisher
    pb = proto_modules(tempfile.mkdtemp(prefix="oim-flow-pb-"))
    return zmq, curve_client, pb, Publisher


def phase_curve(s, args):
    zmq, curve_client, pb, Publisher = _curve_setup(args)
    with open(args.state) as f:
        st = json.load(f)
    company, startup = st["company"], st["startup"]
    clients = os.path.join(args.keys, "clients")        # gateway.cert (public) only
    if not os.path.exists(os.path.join(clients, "gateway.cert")):
        raise Fail(f"no gateway public key in {clients} (deploy/stack.sh keys makes it)")
    ingest = f"tcp://127.0.0.1:{s.port('gateway', 5570)}"
    feed = f"tcp://127.0.0.1:{s.port('gateway', 5571)}"
    ctx = zmq.Context.instance()
    socks = []

    def sock(kind, keypair=None, curve=True):
        so = ctx.socket(kind)
        so.setsockopt(zmq.LINGER, 0)
        if curve:
            curve_client(so, clients, keypair)
        socks.append(so)
        return so
    try:
        # Feed keys, registered by the organisations themselves (owner keys).
        subs = {}
        for org in (company, startup):
            kp = zmq.curve_keypair()
            s.must((200, 201, 204), "PUT", f"/v1/orgs/{org['id']}/feed-key",
                   {"curve_public_key": kp[0].decode()}, key=org["api_key"])
            sub = sock(zmq.SUB, kp)
            other = startup if org is company else company
            for topic in (org["id"], other["id"], ""):      # only the first may take effect
                sub.setsockopt(zmq.SUBSCRIBE, topic.encode())
            sub.connect(feed)
            subs[org["id"]] = sub
        intruders = {"plain SUB": sock(zmq.SUB, curve=False),
                     "SUB with an unregistered key": sock(zmq.SUB)}
        for so in intruders.values():
            so.setsockopt(zmq.SUBSCRIBE, b"")
            so.connect(feed)
        log("feed keys registered for the company and the startup; 4 subscribers connected")

        # A publisher registered with its CURVE key publishes over the ingest port.
        pkp = zmq.curve_keypair()
        pub_rec = s.must((200, 201), "POST", "/v1/publishers",
                         {"source_system": "compose-curve", "name": "Compose CURVE publisher",
                          "curve_public_key": pkp[0].decode()})
        # Intruders on the ingest port first: the publisher's own valid API key, but a plain
        # socket / an unregistered CURVE key: no ack (nothing reaches the registry).
        for name, dealer in (("plain DEALER", sock(zmq.DEALER, curve=False)),
                             ("DEALER with an unregistered key", sock(zmq.DEALER))):
            dealer.connect(ingest)
            b = pb["ingest"].IngestBatch(batch_id=f"intruder-{name}", api_key=pub_rec["api_key"])
            ev = b.events.add(external_id=f"intruder-{len(name)}", sequence=1, op="upsert",
                              org_ref=company["id"], occurred_at="2026-11-30T00:00:00Z")
            ev.demand.title = "must never exist"
            dealer.send(b.SerializeToString())
            if dealer.poll(3000):
                raise Fail(f"{name} on the published ingest port got an answer: {dealer.recv()[:100]}")
            log(f"ingest: a {name}, sending a batch with the publisher's valid API key, got nothing in 3 s")
        pub = Publisher(ingest, pub_rec["api_key"], pb, timeout=5.0, curve=(clients, pkp))
        socks.append(pub.sock)
        got = {company["id"]: [], startup["id"]: []}
        made = []               # the demands this phase made (later phases count them as theirs)
        t0 = time.monotonic()
        n = 0
        # PUB/SUB joins asynchronously: publish demands until both subscribers have heard.
        while not all(got.values()):
            if time.monotonic() - t0 > 90:
                raise Fail(f"feed subscribers heard nothing in 90 s: "
                           f"{ {k: len(v) for k, v in got.items()} }")
            fields = demand_fields(1000 + n)
            b = pub.batch(f"curve-{n}", [{"external_id": f"curve-{n}", "sequence": 1, "op": "upsert",
                                          "org_ref": company["id"],
                                          "occurred_at": "2026-11-30T00:00:00Z", "demand": fields}])
            acks = pub.publish([b], deadline=60)
            if acks[f"curve-{n}"].results[0].status not in ("created", "duplicate"):
                raise Fail(f"ingest result: {acks[f'curve-{n}']}")
            made.append(acks[f"curve-{n}"].results[0].demand_id)
            st.setdefault("more_demands", []).append(made[-1])
            with open(args.state, "w") as f:
                json.dump(st, f)
            n += 1
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not all(got.values()):
                for org_id, sub in subs.items():
                    while sub.poll(50):
                        topic, body = sub.recv_multipart()[:2]
                        got[org_id].append(topic.decode())
        log(f"{n} CURVE-published batches acknowledged; both subscribers heard within "
            f"{time.monotonic() - t0:.1f} s")
        time.sleep(3)           # anything else that would arrive, arrives
        for org_id, sub in subs.items():
            while sub.poll(100):
                got[org_id].append(sub.recv_multipart()[0].decode())
        for org_id, topics in got.items():
            if set(topics) != {org_id}:
                raise Fail(f"subscriber of {org_id} received other topics: {sorted(set(topics))}")
        for name, so in intruders.items():
            if so.poll(100):
                raise Fail(f"{name} on the published feed port received {so.recv_multipart()[0][:60]}")
        code, body = s.http("GET", f"/v1/demands?org_id={company['id']}&limit=100")
        titles = [d.get("title") for d in (body or {}).get("items", [])] if code == 200 else []
        if "must never exist" in titles:
            raise Fail("an intruder's batch was applied")
        log(f"feed: company got {len(got[company['id']])}, startup {len(got[startup['id']])} "
            "notifications, each only its own; plain and unregistered sockets got nothing")
    finally:
        for so in socks:
            so.close(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=["flow", "stream", "persisted", "curve"])
    ap.add_argument("--project", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--kill", default="registry,search,matcher,notify,gateway,redis",
                    type=lambda v: v.split(","))
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--interval", type=float, default=0.4)
    ap.add_argument("--settle", type=float, default=180, help="seconds to wait for matches/webhooks")
    ap.add_argument("--keys", help="deploy/stack.sh's key directory (curve phase)")
    args = ap.parse_args()
    s = Stack(args.project, args.key)
    try:
        {"flow": phase_flow, "stream": phase_stream, "persisted": phase_persisted,
         "curve": phase_curve}[args.phase](s, args)
    except Fail as e:
        log(f"FAIL: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
