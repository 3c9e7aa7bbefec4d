"""Helpers shared by the registry's integration tests (test_registry_*.py): a cluster with
Redis, the gateway and the registry; a tiny RESP client for binary values (change log,
audit); business-number generation; org/demand factories."""
import itertools
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import oimtest  # noqa: E402

AGENCY = oimtest.AGENCY_KEY
_counter = itertools.count(1)


def business_number(seed=None):
    """A valid 10-digit Korean business registration number (check digit computed)."""
    n = next(_counter) if seed is None else seed
    digits = [int(c) for c in f"{(n * 7919 + 1000003) % 10**9:09d}"]
    weights = [1, 3, 7, 1, 3, 7, 1, 3, 5]
    total = sum(d * w for d, w in zip(digits, weights)) + (digits[8] * 5) // 10
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


def resp(sock_path, *args):
    """Runs one Redis command over the unix socket; returns the parsed reply (bytes kept)."""
    r = oimtest.Resp(sock_path)
    try:
        return r.cmd(*args)
    finally:
        r.close()


class RegistryCluster(oimtest.Cluster):
    """Redis + gateway + registry, with registry-specific readers."""

    def up(self, *redis_args):
        self.start_redis(*redis_args)
        self.start_gateway()
        self.start("registry")
        self.wait_registered({"registry": 1})
        os.makedirs(os.path.join(self.dir, "pb"), exist_ok=True)
        self.pb = oimtest.proto_modules(os.path.join(self.dir, "pb"))
        return self

    def rcmd(self, *args):
        return resp(self.redis_sock, *args)

    def changelog_len(self):
        return self.rcmd("XLEN", "oim:changelog")

    def changelog(self):
        """Every ChangeEntry in order, parsed."""
        entries = []
        for _id, fields in self.rcmd("XRANGE", "oim:changelog", "-", "+"):
            e = self.pb["changelog"].ChangeEntry()
            e.ParseFromString(fields[1])
            entries.append(e)
        return entries

    def org(self, kind="company", key=AGENCY, **fields):
        """Creates an org (agency: active); returns (org json, api key)."""
        body = {"kind": kind, "name": fields.pop("name", f"{kind} {next(_counter)}")}
        body.update(fields)
        status, org, _ = self.http("POST", "/v1/orgs", body, key=key)
        assert status == 201, (status, org)
        return org, org["api_key"]

    def demand(self, key, **fields):
        body = {"title": fields.pop("title", f"demand {next(_counter)}")}
        body.update(fields)
        status, demand, _ = self.http("POST", "/v1/demands", body, key=key)
        assert status == 201, (status, demand)
        return demand

    def publisher(self, source_system=None):
        """A publisher registered by the agency with a fresh CURVE keypair (its ingest key,
        curve_public_key); pub["curve"] = (keys_dir, keypair) for Publisher(curve=...) when
        the cluster runs CURVE."""
        import zmq
        source_system = source_system or f"src-{next(_counter)}"
        keypair = zmq.curve_keypair()
        status, pub, _ = self.http("POST", "/v1/publishers",
                                   {"source_system": source_system, "name": "Other platform",
                                    "curve_public_key": keypair[0].decode()}, key=AGENCY)
        assert status == 201, (status, pub)
        if self.curve:
            pub["curve"] = (self.keys_dir, keypair)
        return pub


class RegistryCase(oimtest.ClusterCase):
    """A test class over one RegistryCluster (Redis + gateway + registry), brought up; a
    subclass extends bring_up (super() first) for what it needs besides."""

    @classmethod
    def make_cluster(cls):
        return RegistryCluster()

    @classmethod
    def bring_up(cls):
        cls.c.up()
