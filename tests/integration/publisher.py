"""publisher — a demand-event publisher written in Python (python3-zmq + python3-protobuf),
proof that a non-C system can publish to OI Market's ZeroMQ ingest endpoint (SPEC §4).

A DEALER socket keeps up to `window` IngestBatch frames in flight and matches IngestAcks by
batch_id. A batch counts as delivered only when its ack has status 200 (the events are then
durable in Redis); a batch without such an ack within `timeout` seconds (registry killed,
restarting, Redis down) is sent again — the registry's processing is idempotent, so a
re-sent batch reports "duplicate" for what it had already applied.

    pub = Publisher(endpoint, api_key, pb)       # pb = oimtest.proto_modules(dir)
    acks = pub.publish(batches)                  # {batch_id: IngestAck}
"""
import time
import zmq


class Publisher:
    def __init__(self, endpoint, api_key, pb, window=4, timeout=3.0, curve=None):
        """curve: None for plain ZeroMQ, else (keys_dir, (public, secret)): a CURVE client of
        the gateway (keys_dir holds gateway.cert) with the publisher's registered keypair."""
        self.endpoint, self.api_key, self.pb = endpoint, api_key, pb
        self.curve = curve
        self.window, self.timeout = window, timeout
        self.ctx = zmq.Context.instance()
        self.sock = None
        self.resends = 0
        self._connect()

    def _connect(self):
        if self.sock is not None:
            self.sock.close(linger=0)
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if self.curve:
            from oimtest import curve_client
            curve_client(self.sock, *self.curve)
        self.sock.connect(self.endpoint)

    def close(self):
        self.sock.close(linger=0)

    def batch(self, batch_id, events):
        """An IngestBatch of DemandEvent messages (or dicts of DemandEvent fields)."""
        b = self.pb["ingest"].IngestBatch(batch_id=batch_id, api_key=self.api_key)
        for e in events:
            if isinstance(e, dict):
                ev = b.events.add()
                demand = e.get("demand")
                for k, v in e.items():
                    if k != "demand":
                        setattr(ev, k, v)
                if demand is not None:
                    for k, v in demand.items():
                        if isinstance(v, list):
                            getattr(ev.demand, k).extend(v)
                        else:
                            setattr(ev.demand, k, v)
            else:
                b.events.add().CopyFrom(e)
        return b

    def send_raw(self, payload, timeout=10.0):
        """Sends one frame and returns the IngestAck answering it (for refusals)."""
        self.sock.send(payload)
        if not self.sock.poll(int(timeout * 1000)):
            raise TimeoutError("no ack")
        ack = self.pb["ingest"].IngestAck()
        ack.ParseFromString(self.sock.recv())
        return ack

    def publish(self, batches, deadline=120.0, on_ack=None):
        """Sends every batch (IngestBatch messages with distinct batch_ids) until each has a
        200 ack. Returns {batch_id: IngestAck}. on_ack(ack) is called for each 200 ack."""
        pending = list(batches)
        by_id = {b.batch_id: b.SerializeToString() for b in batches}
        in_flight = {}              # batch_id -> time sent
        acked = {}
        end = time.monotonic() + deadline
        while len(acked) < len(by_id):
            if time.monotonic() > end:
                raise TimeoutError(f"{len(by_id) - len(acked)} batches never acknowledged")
            now = time.monotonic()
            for bid, sent in list(in_flight.items()):
                if now - sent > self.timeout:       # no ack: send it again
                    del in_flight[bid]
                    pending.insert(0, self._find(batches, bid))
                    self.resends += 1
            while pending and len(in_flight) < self.window:
                b = pending.pop(0)
                if b.batch_id in acked:
                    continue
                self.sock.send(by_id[b.batch_id])
                in_flight[b.batch_id] = time.monotonic()
            if self.sock.poll(100):
                ack = self.pb["ingest"].IngestAck()
                ack.ParseFromString(self.sock.recv())
                if ack.batch_id not in in_flight:
                    continue                        # a late ack of a re-sent batch
                del in_flight[ack.batch_id]
                if ack.status == 200:
                    acked[ack.batch_id] = ack
                    if on_ack:
                        on_ack(ack)
                else:                               # 503 etc.: try again later
                    pending.append(self._find(batches, ack.batch_id))
                    self.resends += 1
                    time.sleep(0.05)
        return acked

    @staticmethod
    def _find(batches, batch_id):
        for b in batches:
            if b.batch_id == batch_id:
                return b
        raise KeyError(batch_id)
