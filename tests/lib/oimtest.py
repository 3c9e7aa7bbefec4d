"""oimtest — the integration-test harness: real Redis, real daemons, real sockets.

A Cluster owns a temp dir with a throw-away redis-server (unix socket, no TCP port), the
oim-gateway (HTTP, broker and ingest on ports chosen by the kernel, read back from its ports
file) and any daemons. Nothing is fixed: no ports, no sleeps — tests wait on conditions with
deadlines (wait_for). Binaries come from $OIM_BUILD_DIR (set by ctest).

    with Cluster() as c:
        c.start_all()                     # redis, gateway, registry, search, matcher, notify
        status, body = c.http("GET", "/v1/status")
        c.kill("registry")                # SIGKILL
        c.start("registry")

CURVE is on by default, as deployed: the Cluster makes its keys once (oimctl curve-keygen into
its temp dir) and every process gets OIM_CURVE_DIR; Cluster(curve=False) runs plain ZeroMQ
(OIM_CURVE=off, loopback only). A test's own ZeroMQ client gets its keys from
c.curve_socket(ctx, zmq.SUB) (a fresh client keypair, or the one given, and the gateway's
public key), or from curve_client(socket, keys_dir) for a socket it made itself.

Runs under Debian's /usr/bin/python3 (python3-zmq and python3-protobuf come from apt).
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BUILD_DIR = os.environ.get("OIM_BUILD_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SERVICES = ("registry", "search", "matcher", "notify")
AGENCY_KEY = "oim_test_agency_key_0123456789abcdef"


def binary(name):
    """Path of a built binary: oim-gateway, oim-registry, ..., oimctl."""
    service = name[4:] if name.startswith("oim-") else name
    for candidate in (os.path.join(BUILD_DIR, "services", service, name),
                      os.path.join(BUILD_DIR, name)):
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(f"{name} not built under {BUILD_DIR}")


def wait_for(condition, timeout=10.0, message="condition", interval=0.02):
    """Polls condition() until it returns a truthy value; returns it. Fails after timeout."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:      # a condition may fail while things come up
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}"
                         + (f" (last error: {last_error!r})" if last_error else ""))


def proto_modules(out_dir):
    """Compiles proto/*.proto with Google's protoc for Python into out_dir and imports them."""
    proto_dir = os.path.join(SOURCE_DIR, "proto")
    files = sorted(f for f in os.listdir(proto_dir) if f.endswith(".proto"))
    subprocess.run(["protoc", "-I", proto_dir, "--python_out", out_dir] + files,
                   cwd=proto_dir, check=True)
    if out_dir not in sys.path:
        sys.path.insert(0, out_dir)
    import importlib
    return {f[:-6]: importlib.import_module(f[:-6] + "_pb2") for f in files}


def load_cert(path):
    """(public, secret) Z85 bytes of a czmq zcert file (secret None for a public-only file)."""
    import zmq.auth
    return zmq.auth.load_certificate(path)


def curve_client(sock, keys_dir, keypair=None):
    """Makes sock a CURVE client of the gateway (keys_dir holds gateway.cert): with keypair
    (public, secret) Z85 bytes, or a fresh random one (a key nobody registered). Returns the
    keypair used."""
    import zmq
    server_public, _ = load_cert(os.path.join(keys_dir, "gateway.cert"))
    public, secret = keypair or zmq.curve_keypair()
    sock.curve_serverkey = server_public
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    return public, secret


def _pb_string(number, value):
    """One protobuf string field (wire type 2): enough to write a CurveKeyRecord by hand."""
    data = value.encode() if isinstance(value, str) else value
    size, varint = len(data), b""
    while True:
        byte = size & 0x7F
        size >>= 7
        varint += bytes([byte | (0x80 if size else 0)])
        if not size:
            return bytes([number << 3 | 2]) + varint + data


class RedisError(Exception):
    """An error reply from Redis."""


class Resp:
    """A minimal binary-safe Redis client over the cluster's unix socket, for tests that write
    entities and stream entries exactly as the daemons do. Replies: str (status), int, bytes
    (bulk), list (array), None (nil); an error reply is a RedisError — returned by pipeline
    (so the replies stay in step), raised by cmd / calling the object."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.file = self.sock.makefile("rb")

    def close(self):
        self.file.close()
        self.sock.close()

    @staticmethod
    def _encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def _read(self):
        line = self.file.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RedisError(f"bad reply {line!r}")

    def pipeline(self, *commands):
        """Sends every command at once; returns their replies in order."""
        self.sock.sendall(b"".join(self._encode(c) for c in commands))
        return [self._read() for _ in commands]

    def cmd(self, *args):
        reply = self.pipeline(args)[0]
        if isinstance(reply, RedisError):
            raise reply
        return reply

    __call__ = cmd


class Process:
    """One child process with its log file."""

    def __init__(self, name, argv, env, log_path):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.proc = None

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def wait(self, timeout=10):
        return self.proc.wait(timeout=timeout)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


class Cluster:
    """A whole OI Market on this machine, torn down on exit."""

    def __init__(self, env=None, heartbeat_ms=250, keep=False, curve=True):
        self.dir = tempfile.mkdtemp(prefix="oimtest-")
        self.curve = curve
        self.keys_dir = os.path.join(self.dir, "keys")
        if curve:
            subprocess.run([binary("oimctl"), "curve-keygen", self.keys_dir], check=True,
                           capture_output=True, timeout=30)
        self.redis_sock = os.path.join(self.dir, "redis.sock")
        self.redis_url = f"unix://{self.redis_sock}"
        self.extra_env = dict(env or {})
        self.heartbeat_ms = heartbeat_ms
        self.keep = keep
        self.redis = None
        self.gateway = None
        self.daemons = {}           # name -> list of Process (replicas)
        self.ports = None
        self.redis_extra = []

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        bad_exits = self.stop_all()
        failed = exc[0] is not None or bool(bad_exits)
        if failed or os.environ.get("OIM_TEST_SHOW_LOGS"):
            self.dump_logs()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        if bad_exits and exc[0] is None:
            # A daemon that does not exit 0 on SIGTERM failed to shut down cleanly — under
            # the sanitizer build that includes LeakSanitizer finding a leak.
            raise AssertionError(f"unclean shutdown (name, exit code): {bad_exits}")
        return False

    def env(self, **more):
        env = dict(os.environ)
        env.update({
            "OIM_REDIS_URL": self.redis_url,
            "OIM_LOG_LEVEL": "info",
            "OIM_FEED_PORT": "0",           # any free port: clusters run side by side
            "OIM_RATE_LIMIT": "0",          # tests hammer the API; test_rate_limit turns it on
            "OIM_AUTH_FAIL_LIMIT_PER_MINUTE": "0",   # likewise; test_security_http turns limits on
            "OIM_SIGNUP_LIMIT_PER_HOUR": "0",
            "OIM_HEARTBEAT_MS": str(self.heartbeat_ms),
            "OIM_BOOTSTRAP_AGENCY_KEY": AGENCY_KEY,
            "OIM_WEBHOOK_ALLOW_PRIVATE": "1",
            "OIM_FEED_PROXY": "tcp://127.0.0.1:*",   # the gateway's feed intake, any free port
        })
        if self.curve:
            env["OIM_CURVE"] = "on"
            env["OIM_CURVE_DIR"] = self.keys_dir
        else:
            env["OIM_CURVE"] = "off"
        if self.ports:
            env["OIM_BROKER_ENDPOINT"] = self.ports["broker_endpoint"]
            if self.ports.get("feed_intake"):
                env["OIM_FEED_ENDPOINT"] = self.ports["feed_intake"]
        env.update(self.extra_env)
        env.update({k: str(v) for k, v in more.items()})
        return env

    def start_redis(self, *extra):
        """Starts redis-server on the cluster's unix socket (again after stop_redis)."""
        self.redis_extra = list(extra) or self.redis_extra
        argv = ["redis-server", "--port", "0", "--unixsocket", self.redis_sock,
                "--unixsocketperm", "700", "--dir", self.dir, "--save", "",
                "--appendonly", "yes", "--appendfsync", "everysec"] + self.redis_extra
        self.redis = Process("redis", argv, os.environ.copy(),
                             os.path.join(self.dir, "redis.log")).start()
        wait_for(lambda: self.redis_cli("PING") == "PONG", 10, "redis to answer PING")
        return self.redis

    def stop_redis(self, sig=signal.SIGKILL):
        self.redis.signal(sig)
        self.redis.wait()

    def redis_cli(self, *args):
        out = subprocess.run(["redis-cli", "-s", self.redis_sock] + [str(a) for a in args],
                             capture_output=True, timeout=10)
        return out.stdout.decode().strip()

    def start_gateway(self, http_port=0, ingest_port=0, broker="tcp://127.0.0.1:*", **env):
        ports_file = os.path.join(self.dir, "ports.json")
        if os.path.exists(ports_file):
            os.unlink(ports_file)
        argv = [binary("oim-gateway"), "--http-address", "127.0.0.1",
                "--http-port", str(http_port), "--ingest-port", str(ingest_port),
                "--broker-endpoint", broker, "--ports-file", ports_file]
        self.gateway = Process("gateway", argv, self.env(**env),
                               os.path.join(self.dir, "gateway.log")).start()
        wait_for(lambda: os.path.exists(ports_file) or not self.gateway.alive(), 10,
                 "the gateway's ports file")
        if not self.gateway.alive():
            raise AssertionError(f"gateway exited with {self.gateway.proc.returncode}:\n"
                                 + self.gateway.log())
        with open(ports_file) as f:
            self.ports = json.load(f)
        return self.gateway

    def restart_gateway(self, sig=signal.SIGKILL):
        """Kills the gateway and starts a new one on the same ports."""
        old = self.ports
        self.gateway.signal(sig)
        self.gateway.wait()
        broker_port = old["broker_endpoint"].rsplit(":", 1)[1]
        # The old ports are ephemeral ones: while they were free, a client socket of another
        # test running in parallel may have been given one as its local port. Try again
        # briefly before calling it a failure.
        for attempt in range(20):
            try:
                return self.start_gateway(http_port=old["http_port"], ingest_port=old["ingest_port"],
                                          broker=f"tcp://127.0.0.1:{broker_port}")
            except AssertionError:
                if attempt == 19:
                    raise
                time.sleep(0.25)

    def start(self, service, **env):
        """Starts one (more) replica of a daemon."""
        replicas = self.daemons.setdefault(service, [])
        index = len(replicas)
        health = os.path.join(self.dir, f"{service}-{index}.health")
        argv = [binary(f"oim-{service}"), "--health-file", health]
        proc = Process(service, argv, self.env(**env),
                       os.path.join(self.dir, f"{service}-{index}.log")).start()
        replicas.append(proc)
        return proc

    def start_all(self, services=SERVICES, wait_ready=True):
        self.start_redis()
        self.start_gateway()
        for service in services:
            self.start(service)
        if wait_ready:
            self.wait_registered({s: 1 for s in services})
        return self

    def kill(self, service, index=-1, sig=signal.SIGKILL):
        """Signals one replica (default SIGKILL) and waits for it to exit."""
        proc = self.daemons[service][index]
        proc.signal(sig)
        code = proc.wait()
        return code

    def restart(self, service, index=-1, **env):
        proc = self.daemons[service][index]
        if proc.alive():
            self.kill(service, index)
        proc.env = self.env(**env)
        return proc.start()

    def stop_all(self):
        """SIGTERMs everything still running; returns [(name, exit code)] of those that did
        not exit 0 (or had to be killed)."""
        everything = [p for ps in self.daemons.values() for p in ps]
        everything += [p for p in (self.gateway, self.redis) if p]
        running = [p for p in everything if p.alive()]
        for proc in running:
            proc.signal(signal.SIGTERM)
        bad = []
        for proc in running:
            try:
                code = proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.signal(signal.SIGKILL)
                code = proc.wait()
                code = f"hung, killed ({code})"
            if code != 0:
                bad.append((proc.name, code))
        return bad

    def dump_logs(self):
        for proc in [p for ps in self.daemons.values() for p in ps] + [self.gateway, self.redis]:
            if proc:
                tail = proc.log()[-4000:]
                sys.stderr.write(f"\n----- {proc.name} log ({proc.log_path}) -----\n{tail}\n")

    # -- ZeroMQ clients ----------------------------------------------------------------------
    def daemon_keypair(self):
        """(public, secret) of daemon.cert: the key the broker and the feed intake accept."""
        return load_cert(os.path.join(self.keys_dir, "daemon.cert_secret"))

    def curve_socket(self, ctx, socket_type, keypair=None):
        """A pyzmq socket set up to connect to the gateway: a CURVE client (with keypair, or a
        fresh unregistered one) when the cluster runs CURVE, a plain socket otherwise."""
        sock = ctx.socket(socket_type)
        if self.curve:
            curve_client(sock, self.keys_dir, keypair)
        return sock

    def register_curve_key(self, kind, org_id="", publisher_id="", source_system="", keypair=None):
        """Writes a CurveKeyRecord for a fresh (or the given) client keypair straight into Redis,
        as the registry does (oim:curvekey:<z85 public>); returns (public, secret). For tests of
        the ZAP handler and for clients whose registry side a test does not exercise."""
        import zmq
        public, secret = keypair or zmq.curve_keypair()
        record = b"".join(_pb_string(n, v) for n, v in ((1, kind), (2, org_id), (3, publisher_id),
                                                          (4, source_system)) if v)
        r = Resp(self.redis_sock)
        try:
            r.cmd("SET", b"oim:curvekey:" + public, record)
            if kind == "feed":      # the org's slot, which the feed checks on open connections
                r.cmd("SET", f"oim:org:{org_id}:feedkey", public)
        finally:
            r.close()
        return public, secret

    def feed_endpoint(self):
        return f"tcp://127.0.0.1:{self.ports['feed_port']}"

    def gateway_metric(self, name, labels=None):
        """The sum of the gateway's samples of metric name (whose labels include every
        key="value" of labels) in /metrics; 0 when there is none."""
        status, text, _ = self.http("GET", "/metrics")
        total = 0.0
        for line in (text if status == 200 else "").splitlines():
            if not (line.startswith(name + "{") or line.startswith(name + " ")):
                continue
            if all(f'{k}="{v}"' in line for k, v in (labels or {}).items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def wait_feed_subscribed(self, count, timeout=10):
        """Waits until the gateway's feed has applied count subscriptions in all (they join
        asynchronously; a notification published before is not delivered)."""
        return wait_for(lambda: self.gateway_metric("oim_feed_subscriptions_total") >= count,
                        timeout, f"{count} feed subscriptions applied")

    # -- HTTP ------------------------------------------------------------------------------
    def http(self, method, path, body=None, key=None, headers=None, raw=None, timeout=30):
        """One HTTP request to the gateway. Returns (status, parsed JSON or text, headers)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["http_port"], timeout=timeout)
        hdrs = dict(headers or {})
        if key:
            hdrs["Authorization"] = f"Bearer {key}"
        data = raw
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        payload = resp.read()
        conn.close()
        ctype = resp.getheader("Content-Type", "")
        parsed = json.loads(payload) if payload and "json" in ctype else payload.decode("utf-8", "replace")
        return resp.status, parsed, dict(resp.getheaders())

    def workers(self):
        """{service: count} of replicas (processes) the gateway reports in /v1/status; a
        daemon answering from several threads lists each as "<instance>/t<k>"."""
        status, body, _ = self.http("GET", "/v1/status")
        if status != 200:
            return {}
        processes = {}
        for entry in body["services"]:
            if "error_status" not in entry:
                instance = re.sub(r"/t\d+$", "", entry.get("instance", ""))
                processes.setdefault(entry["service"], set()).add(instance)
        return {service: len(instances) for service, instances in processes.items()}

    def wait_registered(self, expected, timeout=15):
        """Waits until /v1/status shows at least expected {service: replicas}."""
        def ok():
            counts = self.workers()
            return all(counts.get(s, 0) >= n for s, n in expected.items())
        return wait_for(ok, timeout, f"workers {expected} to register")


class ClusterCase(unittest.TestCase):
    """A test class whose tests share one cluster: make_cluster() builds it (default: a
    Cluster), bring_up() starts what the class needs (default: everything); a failure there
    tears the cluster down (logs shown) before it propagates, and tearDownClass ends it."""

    @classmethod
    def make_cluster(cls):
        return Cluster()

    @classmethod
    def bring_up(cls):
        cls.c.start_all()

    @classmethod
    def setUpClass(cls):
        cls.c = cls.make_cluster().__enter__()
        try:
            cls.bring_up()
        except BaseException:
            cls.c.__exit__(*sys.exc_info())
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.__exit__(None, None, None)
