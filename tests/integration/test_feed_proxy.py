"""The gateway-hosted ZeroMQ feed (OIM_FEED_PROXY): several notify replicas publish into the
gateway's intake and a subscriber on the one public feed port sees every notification, each
once, with its per-organization sequence — the deployment shape of docker-compose. With CURVE
(the default) the subscriber holds the organization's registered feed key."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oimtest import Cluster, proto_modules, wait_for  # noqa: E402

import zmq  # noqa: E402


ORG = "org_000000000000000000F0F"     # the shape of an id (common/oim_id.h)


class FeedProxyTest(unittest.TestCase):
    def test_two_replicas_one_feed(self):
        with Cluster(env={"OIM_FEED_PROXY": "tcp://127.0.0.1:*", "OIM_FEED_PORT": "0"}) as c, \
                tempfile.TemporaryDirectory() as tmp:
            pb = proto_modules(tmp)
            c.start_redis()
            c.start_gateway()
            self.assertTrue(c.ports["feed_intake"].startswith("tcp://127.0.0.1:"))
            org = pb["registry"].Organization(id=ORG, kind="company", name="F", status="active",
                                              version=1)
            subprocess.run(["redis-cli", "-s", c.redis_sock, "-x", "SET", f"oim:org:{ORG}"],
                           input=org.SerializeToString(), check=True, capture_output=True)
            keys = c.register_curve_key("feed", org_id=ORG)
            for _ in range(2):
                c.start("notify", OIM_FEED_ENDPOINT=c.ports["feed_intake"])
            c.wait_registered({"notify": 2})
            ctx = zmq.Context()
            sub = c.curve_socket(ctx, zmq.SUB, keys)
            sub.setsockopt(zmq.SUBSCRIBE, ORG.encode())
            sub.setsockopt(zmq.RCVTIMEO, 10000)
            sub.connect(f"tcp://127.0.0.1:{c.ports['feed_port']}")

            def publish(n):
                ev = pb["notify"].Event(id=f"ntf_{n:021d}", type="match.created", org_id=ORG,
                                        created_at="2026-11-30T00:00:00.000Z", data_json="{}")
                subprocess.run(["redis-cli", "-s", c.redis_sock, "-x", "XADD", "oim:events", "*", "e"],
                               input=ev.SerializeToString(), check=True, capture_output=True)

            # PUB/SUB joins asynchronously: publish probes until one arrives, then the real run.
            probe = [0]

            def joined():
                probe[0] += 1
                publish(probe[0])
                try:
                    return sub.recv_multipart(flags=0)
                except zmq.Again:
                    return None
            sub.setsockopt(zmq.RCVTIMEO, 200)
            wait_for(joined, 15, "the feed subscription through the proxy")
            sub.setsockopt(zmq.RCVTIMEO, 10000)
            first = probe[0] + 1
            for n in range(first, first + 60):
                publish(n)
            seen = {}
            wanted = {f"ntf_{n:021d}" for n in range(first, first + 60)}
            while not wanted <= set(seen):
                try:
                    topic, body = sub.recv_multipart()
                except zmq.Again:
                    break
                note = pb["notify"].Notification.FromString(body)
                self.assertEqual(topic, ORG.encode())
                seen[note.id] = note.feed_sequence
            for n in range(first, first + 60):
                self.assertIn(f"ntf_{n:021d}", seen)
            # one gap-free sequence across both replicas
            self.assertEqual(sorted(seen.values()), list(range(min(seen.values()), max(seen.values()) + 1)))
            sub.close()
            ctx.term()


if __name__ == "__main__":
    unittest.main(verbosity=2)
