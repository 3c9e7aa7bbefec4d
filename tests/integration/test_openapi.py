"""GET /v1/openapi.json against a real stack (issue 19 items 1 and 3).

* The served document is valid OpenAPI 3.1 per openapi-spec-validator (PyPI) and describes
  every route of services/gateway/gateway_routes.c.
* Schemathesis (PyPI) runs against the same stack with anonymous, startup, company and agency
  API keys: bounded (OIM_SCHEMATHESIS_EXAMPLES examples per operation, default 8, fixed seed
  OIM_SCHEMATHESIS_SEED default 19, OIM_SCHEMATHESIS_SECONDS per credential, default 40),
  checks: no 5xx (not_a_server_error) and every response conforms to the description
  (response_schema_conformance). Excluded: the SSE stream (never ends), the web app's files
  and /metrics (not JSON). Its summary is printed and written to <build>/figures/.
Both tools live in a venv under the build tree (<build>/venv-api), made once and reused.
The longer run: OIM_SCHEMATHESIS_EXAMPLES=100 OIM_SCHEMATHESIS_SECONDS=600 (README)."""
import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import oimtest  # noqa: E402
from oimtest import AGENCY_KEY, BUILD_DIR, SOURCE_DIR, Cluster  # noqa: E402

REQUIREMENTS = ["openapi-spec-validator==0.9.0", "schemathesis==4.32.5"]
VENV = os.path.join(BUILD_DIR, "venv-api")
EXCLUDE = r"^/(v1/notifications/stream|app/.*|console|metrics)?$"


def venv():
    """The venv's bin directory; installs the pinned tools only when they are missing."""
    bin_dir = os.path.join(VENV, "bin")
    stamp = os.path.join(VENV, "requirements.txt")
    wanted = "\n".join(REQUIREMENTS)
    if os.path.exists(stamp) and open(stamp).read() == wanted:
        return bin_dir
    subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([os.path.join(bin_dir, "pip"), "install", "-q", *REQUIREMENTS], check=True)
    with open(stamp, "w") as f:
        f.write(wanted)
    return bin_dir


def routes_from_table():
    with open(os.path.join(SOURCE_DIR, "services", "gateway", "gateway_routes.c")) as f:
        text = f.read()
    return re.findall(r'\{\s*"([A-Z]+)",\s*"([^"]+)",\s*"\w+",\s*"[\w.]+",\s*(?:true|false)\s*\}', text)


class OpenApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bin = venv()
        cls.cluster = Cluster().__enter__()
        cls.cluster.start_all()
        cls.base = f"http://127.0.0.1:{cls.cluster.ports['http_port']}"

    @classmethod
    def tearDownClass(cls):
        cls.cluster.__exit__(None, None, None)

    def key_of(self, kind):
        status, body, _ = self.cluster.http("POST", "/v1/orgs", {"kind": kind, "name": f"API {kind}"},
                                            key=AGENCY_KEY)
        self.assertEqual(status, 201, body)
        return body["api_key"]

    def test_document_is_valid_and_complete(self):
        status, doc, headers = self.cluster.http("GET", "/v1/openapi.json")
        self.assertEqual(status, 200)
        path = os.path.join(BUILD_DIR, "openapi.json")
        with open(path, "w") as f:
            import json
            json.dump(doc, f)
        run = subprocess.run([os.path.join(self.bin, "openapi-spec-validator"), path],
                             capture_output=True, text=True)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        for method, pattern in routes_from_table():
            self.assertIn(method.lower(), doc["paths"].get(pattern, {}), pattern)

    def test_found_by_schemathesis(self):
        """Regressions of what Schemathesis found: an unknown service's status was 503 (the
        broker has no workers for it), now 404 naming the field; list replies lacked items."""
        status, body, _ = self.cluster.http("GET", "/v1/status/0")
        self.assertEqual((status, body["error"]["field"]), (404, "service"), body)
        self.assertEqual(self.cluster.http("GET", "/v1/status/registry")[0], 200)
        status, body, _ = self.cluster.http("GET", "/v1/search?q=API")
        self.assertEqual(status, 200, body)
        self.assertIn("next_cursor", body)
        self.assertEqual(body["items"], body["hits"])       # the deprecated alias still works
        status, body, _ = self.cluster.http("GET", "/v1/deliveries", key=self.key_of("company"))
        self.assertEqual((status, body["items"], body["deliveries"]), (200, [], []), body)

    def schemathesis(self, who, key):
        examples = os.environ.get("OIM_SCHEMATHESIS_EXAMPLES", "8")
        seconds = os.environ.get("OIM_SCHEMATHESIS_SECONDS", "40")
        argv = [os.path.join(self.bin, "schemathesis"), "run", self.base + "/v1/openapi.json",
                "--url", self.base, "-c", "not_a_server_error,response_schema_conformance",
                "-n", examples, "--seed", os.environ.get("OIM_SCHEMATHESIS_SEED", "19"),
                "--max-time", seconds, "--phases", "examples,fuzzing", "-w", "1",
                "--exclude-path-regex", EXCLUDE, "--no-color"]
        if key:
            argv += ["-H", f"Authorization: Bearer {key}"]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=int(seconds) + 120)
        start = run.stdout.find("FAILURES")
        details = run.stdout[start:] if start >= 0 else run.stdout[-1500:]
        summary = run.stdout[run.stdout.rfind("SUMMARY"):]
        os.makedirs(os.path.join(BUILD_DIR, "figures"), exist_ok=True)
        with open(os.path.join(BUILD_DIR, f"schemathesis_{who}.log"), "w") as f:
            f.write(run.stdout + run.stderr)
        with open(os.path.join(BUILD_DIR, "figures", f"schemathesis_{who}.txt"), "w") as f:
            f.write(f"schemathesis ({who}): {summary.splitlines()[-1] if summary else run.returncode}\n")
        summary = details[-6000:]
        print(f"--- schemathesis as {who}\n{summary}", flush=True)
        return run

    def test_schemathesis(self):
        creds = [("anonymous", None), ("startup", self.key_of("startup")),
                 ("company", self.key_of("company")), ("agency", AGENCY_KEY)]
        failed = []
        only = os.environ.get("OIM_SCHEMATHESIS_WHO")     # e.g. "anonymous,agency"
        for who, key in [c for c in creds if not only or c[0] in only.split(",")]:
            with self.subTest(who=who):
                run = self.schemathesis(who, key)
                if run.returncode != 0:
                    failed.append(who)
        self.assertEqual(failed, [], "schemathesis found failures (see the output above)")


if __name__ == "__main__":
    unittest.main(verbosity=2)
