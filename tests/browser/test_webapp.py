"""The web app in a real browser: Selenium drives Debian's headless Chromium against a real
stack (tests/lib/oimtest.py: Redis, gateway, registry, search, matcher, notify).

The flow of issue 16: a startup signs up (pending), the agency approves it, a company posts a
demand (an API field error is shown at its field first), the startup sees the match with its
explanation bars and expresses interest, the company accepts, both see each other's contacts,
the agency's funnel moves. Every screen is saved in Korean and English under
$OIM_BUILD_DIR/screenshots/. Any JavaScript error, CSP violation or console.error in the
browser log (level SEVERE, source other than "network") fails the test.

People sign in with e-mail and password when the gateway offers sessions (POST /v1/sessions,
the agency person bootstrapped with POST /v1/agency/staff and the agency key); otherwise with
their organisation's API key (the app's fallback sign-in), and the test says so.
"""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from oimtest import AGENCY_KEY, BUILD_DIR, Cluster, wait_for  # noqa: E402
from accounts_util import Mailbox  # noqa: E402
from test_notify_util import SmtpServer  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

SHOTS = os.path.join(BUILD_DIR, "screenshots")
PASSWORD = "correct horse battery"
COMPANY_EMAIL, STARTUP_EMAIL, AGENCY_EMAIL = "kim@hanbit.example", "lee@batterylab.example", "park@agency.example"
MEMBER_EMAIL = "choi@hanbit.example"


def receiver():
    """A webhook receiver on a free port answering 204 (for the webhook test ping)."""
    import http.server
    import threading

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def chrome():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--lang=ko-KR", "--disable-extensions",
                "--no-first-run", "--disable-background-networking"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


class WebApp(unittest.TestCase):
    def setUp(self):
        os.makedirs(SHOTS, exist_ok=True)
        # Heartbeats as deployed (1 s): a sign-up or sign-in hashes a password with Argon2id
        # on the registry's loop (~0.5 s, more on a loaded machine), which the tests' usual
        # 250 ms heartbeat (750 ms to expiry) does not always survive.
        self.cluster = c = Cluster(heartbeat_ms=1000).__enter__()
        # Account e-mails (verification, reset) go to a capture SMTP server; their links point
        # at this gateway (OIM_PUBLIC_URL).
        maildir = os.path.join(c.dir, "mail")
        os.makedirs(maildir)
        self.smtp = SmtpServer(maildir)
        self.mail = Mailbox(self.smtp)
        c.start_redis()
        c.start_gateway()
        self.base = f"http://127.0.0.1:{c.ports['http_port']}"
        c.start("registry", OIM_PUBLIC_URL=self.base)
        c.start("search")
        c.start("matcher")
        c.start("notify", OIM_SMTP_URL=f"smtp://127.0.0.1:{self.smtp.port}",
                OIM_WEBHOOK_RETRY_SCHEDULE="0.2,0.2", OIM_WEBHOOK_BREAKER_FAILURES="100000")
        c.wait_registered({s: 1 for s in ("registry", "search", "matcher", "notify")})
        wait_for(lambda: c.http("GET", "/v1/whoami", key=AGENCY_KEY)[0] == 200, 10, "the bootstrap agency")
        self.driver = chrome()
        self.wait = WebDriverWait(self.driver, 15, ignored_exceptions=[StaleElementReferenceException])
        self.errors = []
        self.keys = {}

    def tearDown(self):
        try:
            self.check_log()
        finally:
            self.driver.quit()
            self.smtp.stop()
            self.cluster.__exit__(*sys.exc_info())

    # -- browser helpers --------------------------------------------------------------------
    def check_log(self):
        """Fails on any SEVERE browser log entry that is not a network status (an HTTP error
        answer the app handles, e.g. the 401 of a sign-in probe, is logged as 'network')."""
        for entry in self.driver.get_log("browser"):
            if entry["level"] == "SEVERE" and entry.get("source") != "network":
                self.errors.append(entry["message"])
        self.assertEqual(self.errors, [], "JavaScript errors in the browser log")

    def open(self, path):
        self.driver.get(self.base + "/#" + path)
        self.settle()

    def settle(self):
        """Waits until the view has rendered (no 'loading' paragraph left)."""
        self.wait.until(lambda d: d.execute_script(
            "const m = document.getElementById('main');"
            "return m && m.childElementCount > 0 && !m.querySelector(':scope > p.muted:only-child');"))

    def css(self, selector, timeout=15):
        return WebDriverWait(self.driver, timeout).until(
            EC.visibility_of_element_located((By.CSS_SELECTOR, selector)))

    def fill(self, form, values):
        for name, value in values.items():
            el = form.find_element(By.CSS_SELECTOR, f"[name='{name}']")
            if el.tag_name == "select":
                self.driver.execute_script(
                    "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change'))", el, value)
            else:
                el.clear()
                el.send_keys(value)

    def switch(self, lang):
        if self.driver.execute_script("return document.documentElement.lang") != lang:
            self.driver.find_element(By.ID, "lang").click()
            self.wait.until(lambda d: d.execute_script("return document.documentElement.lang") == lang)
        self.settle()

    def check_labels(self, name):
        """Every visible form control has a label (or aria-label); every button has a name."""
        unlabeled = self.driver.execute_script("""
            return [...document.querySelectorAll('input, select, textarea, button')]
              .filter((el) => el.offsetParent !== null && el.type !== 'hidden')
              .filter((el) => el.tagName === 'BUTTON' ? !el.textContent.trim() && !el.getAttribute('aria-label')
                                                      : !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
              .map((el) => el.outerHTML.slice(0, 120));""")
        self.assertEqual(unlabeled, [], f"controls without a label on {name}")

    def shot(self, name, redo=None):
        """Saves the screen in Korean and in English (the header's toggle re-renders the view;
        redo() brings back a transient state such as a form error), and returns to Korean."""
        self.settle()
        for lang in ("ko", "en"):
            self.switch(lang)
            if redo and lang == "en":
                redo()
            self.check_labels(name)
            self.driver.save_screenshot(os.path.join(SHOTS, f"{name}.{lang}.png"))
        self.switch("ko")
        if redo:
            redo()
        self.check_log()

    def sign_in(self, who):
        if self.driver.find_elements(By.ID, "signout"):
            self.driver.find_element(By.ID, "signout").click()
            self.wait.until(lambda d: not d.find_elements(By.ID, "signout"))
        self.open("/signin")
        if self.sessions:
            form = self.css("#signin-submit").find_element(By.XPATH, "ancestor::form")
            self.fill(form, {"email": who, "password": PASSWORD})
            form.find_element(By.ID, "signin-submit").click()
        else:
            form = self.driver.find_element(By.ID, "key-submit").find_element(By.XPATH, "ancestor::form")
            self.fill(form, {"key": self.keys[who]})
            form.find_element(By.ID, "key-submit").click()
        self.css("#signout")
        self.settle()

    def funnel(self):
        self.open("/agency/stats")
        cells = self.css("#main .chart-data")
        del cells
        return [int(self.driver.find_element(By.CSS_SELECTOR, f"[data-key='chart-funnel:{i}']").text) for i in range(4)]

    # -- the flow ---------------------------------------------------------------------------
    def test_flow(self):
        try:
            self.flow()
        except Exception:       # what the browser showed, for the CI log
            self.driver.save_screenshot(os.path.join(SHOTS, "FAILED.png"))
            sys.stderr.write("browser at failure (%s, screenshot FAILED.png):\n%s\n" % (
                self.driver.current_url, self.driver.execute_script("return document.body.innerText")))
            raise

    def flow(self):
        c = self.cluster
        status, body, headers = c.http("GET", "/")
        self.assertEqual(status, 200)
        self.assertIn("script-src 'self'", headers["Content-Security-Policy"])
        self.assertNotIn("unsafe", headers["Content-Security-Policy"])
        self.assertEqual(c.http("GET", "/app/js/main.js")[2]["Content-Type"], "text/javascript; charset=utf-8")
        self.assertEqual(c.http("GET", "/app/vendor/chart.min.js")[0], 200)
        self.assertEqual(c.http("GET", "/app/js/..%2F..%2Findex.html")[0], 404)
        self.assertEqual(c.http("GET", "/app/.stamp")[0], 404)

        self.sessions = c.http("GET", "/v1/sessions/current")[0] != 404
        print(f"sign-in: {'e-mail and password (sessions)' if self.sessions else 'API keys (no POST /v1/sessions in this tree)'}")
        if self.sessions:
            status, body, _ = c.http("POST", "/v1/agency/staff", {"email": AGENCY_EMAIL, "name": "박운영",
                                                                   "password": PASSWORD}, key=AGENCY_KEY)
            self.assertEqual(status, 201, body)
        self.keys[AGENCY_EMAIL] = AGENCY_KEY
        company = {"kind": "company", "name": "한빛전자", "email": COMPANY_EMAIL, "region": "KR-11",
                   "phone": "02-555-0100"}
        if self.sessions:
            company["account"] = {"email": COMPANY_EMAIL, "password": PASSWORD, "name": "김수요"}
        status, body, _ = c.http("POST", "/v1/orgs", company, key=AGENCY_KEY)
        self.assertEqual(status, 201, body)
        self.keys[COMPANY_EMAIL] = body["api_key"]

        # Home, search (signed out). Keyboard: a view takes the focus to its content, the next
        # Tab is its first link, Enter follows it.
        self.open("/")
        self.shot("01-home")
        self.assertEqual(self.driver.switch_to.active_element.get_attribute("id"), "main")
        ActionChains(self.driver).send_keys(Keys.TAB).perform()
        self.assertEqual(self.driver.switch_to.active_element.get_attribute("href"), self.base + "/#/signup")
        ActionChains(self.driver).send_keys(Keys.ENTER).perform()
        self.wait.until(lambda d: d.current_url.endswith("#/signup"))
        self.open("/search?type=demand&q=배터리")
        self.css("#results")
        self.shot("02-search-empty")

        # 1. The startup signs up and waits for approval.
        self.open("/signup")
        self.shot("03-signup")
        form = self.css("#signup-submit").find_element(By.XPATH, "ancestor::form")
        values = {"kind": "startup", "name": "배터리랩", "email": STARTUP_EMAIL, "region": "KR-41",
                  "stage": "seed", "tags": "battery recycling, 배터리 재활용",
                  "description": "Hydrometallurgical recycling of lithium-ion battery cells. 폐배터리 재활용 습식 제련."}
        if self.sessions:
            values.update({"account_name": "이창업", "account_email": STARTUP_EMAIL, "account_password": PASSWORD})
        self.fill(form, values)
        form.find_element(By.ID, "signup-submit").click()
        if not self.sessions:
            self.keys[STARTUP_EMAIL] = self.css("#new-api-key").text
            self.shot("04-signup-key")
            self.css("#use-key").click()
        self.wait.until(EC.text_to_be_present_in_element((By.ID, "main"), "승인 대기 중입니다."))
        self.shot("05-startup-pending")
        if self.sessions:       # the address is verified from the e-mail's link
            token = self.mail.token(STARTUP_EMAIL, "verify-email")
            self.open(f"/verify-email/{token}")
            self.css("#main .notice.ok")
            self.shot("05b-verify-email")

        # 2. The agency approves it (the funnel before).
        self.sign_in(AGENCY_EMAIL)
        before = self.funnel()
        self.shot("06-agency-dashboard-before")
        self.open("/agency/queue")
        self.shot("07-agency-queue")
        card = self.css("article.org[data-status='pending']")
        self.assertIn("배터리랩", card.text)
        card.find_element(By.CSS_SELECTOR, "input[name='reason']").send_keys("사업자 확인 완료")
        card.find_element(By.CSS_SELECTOR, "button.approve").click()
        self.wait.until(lambda d: card.get_attribute("data-status") == "active")
        startup_id = card.get_attribute("data-org")
        self.open(f"/org/{startup_id}")
        self.shot("08-agency-org-detail")
        if self.sessions:       # the agency sees the startup's people and keys
            self.assertIn(STARTUP_EMAIL, self.css("#main table").text)
        status, _, _ = c.http("POST", "/v1/publishers", {"source_system": "oi-busan", "name": "부산 OI"}, key=AGENCY_KEY)
        self.assertEqual(status, 201)
        for path, name in (("/agency/orgs", "08-agency-orgs-directory"), ("/agency/publishers", "09-agency-publishers"),
                           ("/agency/deliveries", "10-agency-dead-letters"), ("/agency/audit?action=org.approve", "11-agency-audit")):
            self.open(path)
            self.shot(name)
        self.assertIn("org.approve", self.css("#audit-table").text)
        # the directory (GET /v1/orgs): a search, then pages of one
        self.open("/agency/orgs")
        self.fill(self.css("#orgs-form"), {"q": "배터리"})
        self.driver.find_element(By.CSS_SELECTOR, "#orgs-form button[type='submit']").click()
        self.wait.until(lambda d: "q=" in d.current_url)
        self.settle()
        self.assertEqual([a.text for a in self.driver.find_elements(By.CSS_SELECTOR, "article.org h3")], ["배터리랩"])
        self.open("/agency/orgs?limit=1")
        self.assertEqual(len(self.driver.find_elements(By.CSS_SELECTOR, "article.org")), 1)
        self.driver.find_element(By.CSS_SELECTOR, "#main .pager button").click()
        self.wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "article.org")) == 2)
        # a publisher's key rotated (shown once)
        self.open("/agency/publishers")
        self.css("article.publisher button.rotate").click()
        self.assertTrue(self.css("article.publisher .secret").text.startswith("oimk_"))
        if self.sessions:       # the directory's CSV export, with the session's cookie
            self.open("/agency/orgs")
            href = self.css("a[href='/v1/admin/export/organizations.csv']").get_attribute("href")
            csv = self.driver.execute_async_script(
                "fetch(arguments[0]).then((r) => r.text()).then(arguments[1])", href)
            self.assertIn("배터리랩", csv)
        # Companies' demands go through the agency's review from now on.
        self.open("/agency/review")
        self.css("#review-on").click()
        wait_for(lambda: c.http("GET", "/v1/admin/settings", key=AGENCY_KEY)[1]["demand_review"], 5, "review on")

        # 3. The company posts a demand: the API's field error first, shown at the field.
        self.sign_in(COMPANY_EMAIL)
        self.open("/demands/new")

        def empty_title():
            form = self.css("#demand-form")
            self.fill(form, {"title": "   "})
            form.find_element(By.ID, "demand-submit").click()
            self.assertTrue(self.css("[data-error-for='title']").text)
            self.assertEqual(form.find_element(By.NAME, "title").get_attribute("aria-invalid"), "true")
        empty_title()
        self.shot("12-company-demand-error", redo=empty_title)
        form = self.css("#demand-form")
        self.fill(form, {"title": "폐배터리 재활용 기술 실증 (battery recycling PoC)",
                         "description": "Lithium-ion battery recycling by hydrometallurgy for our EV cells. 배터리 재활용 습식 제련 실증.",
                         "tags": "battery recycling, 배터리 재활용"})
        form.find_element(By.CSS_SELECTOR, "input[name='collaboration'][value='poc']").click()
        form.find_element(By.ID, "demand-submit").click()
        self.wait.until(lambda d: "/demands/dem_" in d.current_url)
        demand_url = self.driver.current_url.split("#", 1)[1]
        self.assertEqual(self.css(".state").text, "검토 중")      # pending_review
        self.shot("12b-company-demand-in-review")

        # The agency approves it in the review queue (and turns the review off again).
        self.sign_in(AGENCY_EMAIL)
        self.open("/agency/review")
        self.shot("12c-agency-review-queue")
        card = self.css("article.review")
        card.find_element(By.XPATH, ".//button[contains(., '승인하여 공개')]").click()
        self.wait.until(lambda d: card.get_attribute("data-status") == "approve")
        self.css("#review-on").click()
        wait_for(lambda: not c.http("GET", "/v1/admin/settings", key=AGENCY_KEY)[1]["demand_review"], 5, "review off")
        self.sign_in(COMPANY_EMAIL)

        def match_listed():
            self.open(demand_url)
            return self.driver.find_elements(By.CSS_SELECTOR, "article.match")
        wait_for(match_listed, 20, "the startup among the demand's matches", interval=0.5)
        self.shot("13-company-demand-matches")
        self.open("/demands")
        self.shot("14-company-demands")
        self.open("/settings")
        self.shot("15-company-settings")
        if self.sessions:       # the webhook test ping reaches a receiver
            hook = receiver()
            form = self.css("#webhook-form")
            self.fill(form, {"url": f"http://127.0.0.1:{hook.server_port}/hook"})
            form.find_element(By.ID, "webhook-submit").click()
            self.css("#main .secret")
            self.css("#webhook-test").click()
            self.wait.until(lambda d: d.find_element(By.ID, "webhook-test-result").get_attribute("data-delivered") == "true")
            self.assertIn("HTTP 204", self.css("#webhook-test-result").text)
            hook.shutdown()
            self.shot("15b-company-webhook-test")
        # a webhook to a closed port: its deliveries end as dead letters (retried 0.2 s apart)
        form = self.css("#webhook-form")
        self.fill(form, {"url": "http://127.0.0.1:9/hook"})
        form.find_element(By.ID, "webhook-submit").click()
        self.assertTrue(self.css("#main .secret").text.startswith("whsec_"))
        form = self.css("#prefs-form")
        form.find_element(By.ID, "prefs-submit").click()
        self.wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#main .notice.ok")) >= 2)
        if self.sessions:
            self.people()

        # 4. The startup sees the match, explained, and expresses interest.
        self.sign_in(STARTUP_EMAIL)
        self.open("/matches")
        self.shot("16-startup-matches")
        card = self.css("article.match")
        self.assertTrue(card.find_elements(By.CSS_SELECTOR, ".bars .bar"), "explanation bars")
        card.find_element(By.CSS_SELECTOR, "button.interest").click()
        self.css("article.match[data-state='interested']")
        # The inbox is live: a second demand posted meanwhile (through the API) shows up unasked.
        self.open("/inbox")
        self.css("#live-status[data-state='live.on']")
        notes = len(self.driver.find_elements(By.CSS_SELECTOR, "#main .list article.note"))
        status, body, _ = c.http("POST", "/v1/demands", {"title": "배터리 재활용 공정 공동 개발",
                                 "description": "battery recycling hydrometallurgy joint development 배터리 재활용",
                                 "tags": ["battery recycling"]}, key=self.keys[COMPANY_EMAIL])
        self.assertEqual(status, 201, body)
        WebDriverWait(self.driver, 20).until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, "#main .list article.note")) > notes)
        first = self.driver.find_element(By.CSS_SELECTOR, "#main .list article.note")
        self.assertEqual(first.get_attribute("data-type"), "match.created")
        self.assertIn("공동 개발", first.text)
        for path, name in (("/inbox", "17-startup-inbox"), ("/saved", "18-startup-saved"), ("/profile", "19-startup-profile"),
                           ("/search?type=demand&q=battery", "20-startup-search")):
            self.open(path)
            self.shot(name)
        # a facet narrows the search (deep link with the filter), a hit opens its detail page
        self.driver.find_element(By.XPATH, "//aside[contains(@class,'facets')]//button[contains(., '배터리 재활용')]").click()
        self.wait.until(lambda d: "tag=" in d.current_url)
        self.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".facets button[aria-pressed='true']"))
        self.assertEqual(len(self.driver.find_elements(By.CSS_SELECTOR, "article.hit")), 1)
        self.driver.find_element(By.CSS_SELECTOR, "article.hit a").click()
        self.wait.until(lambda d: "#/demand/dem_" in d.current_url)
        self.settle()
        self.shot("21-demand-detail")

        # 5. The company accepts; its contacts side shows the startup.
        self.sign_in(COMPANY_EMAIL)
        self.open(demand_url)
        card = self.css("article.match[data-state='interested']")
        card.find_element(By.CSS_SELECTOR, "button.interest").click()
        contacts = self.css("article.match[data-state='connected'] [data-testid='contacts']")
        self.assertIn(STARTUP_EMAIL, contacts.text)
        self.shot("22-company-connected")
        self.open("/inbox")
        self.css("article.note")
        self.shot("23-company-inbox")
        note = self.driver.find_element(By.CSS_SELECTOR, "article.note[data-read='false'] button.mark-read")
        note.click()
        self.wait.until(lambda d: not note.is_displayed())

        # 6. The startup sees the company's contacts.
        self.sign_in(STARTUP_EMAIL)
        self.open("/matches")
        contacts = self.css("article.match[data-state='connected'] [data-testid='contacts']")
        self.assertIn(COMPANY_EMAIL, contacts.text)
        self.shot("24-startup-connected")
        # ... and declines the other match with a reason.
        card = self.css("article.match[data-state='suggested']")
        card.find_element(By.CSS_SELECTOR, "button.decline").click()
        form = self.css("form.decline-form")
        form.find_element(By.NAME, "reason").send_keys("지금은 다른 과제에 집중합니다")
        form.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
        declined = self.css("article.match[data-state='declined']")
        self.assertIn("지금은 다른 과제에 집중합니다", declined.text)

        # 7. The agency sees the funnel move.
        self.sign_in(AGENCY_EMAIL)
        after = self.funnel()
        self.shot("25-agency-dashboard-after")
        # two demands, two matches (the second through the API), one interest, one connection
        self.assertEqual([after[i] - before[i] for i in range(4)], [2, 2, 1, 1], (before, after))
        # the company's webhook deliveries are dead letters; one is sent again
        def dead_listed():
            self.open("/agency/deliveries?status=dead")
            return self.driver.find_elements(By.CSS_SELECTOR, "article.delivery button.retry")
        wait_for(dead_listed, 20, "a dead letter", interval=0.5)
        self.shot("27-agency-dead-letters")
        self.driver.find_element(By.CSS_SELECTOR, "article.delivery button.retry").click()
        self.css("article.delivery .notice.ok")

        # 8. The company's person forgot the password: reset by e-mail, sign in with the new one.
        if self.sessions:
            self.driver.find_element(By.ID, "signout").click()
            self.open("/signin")
            self.driver.find_element(By.CSS_SELECTOR, "a[href='#/reset-password']").click()
            form = self.css("#reset-request-form")
            self.fill(form, {"email": COMPANY_EMAIL})
            form.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
            self.css("#main .notice.ok")
            self.shot("26-reset-requested")
            self.open(f"/reset-password/{self.mail.token(COMPANY_EMAIL, 'reset-password')}")
            form = self.css("#reset-form")
            self.fill(form, {"password": "a new long password 새 비밀번호"})
            form.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
            self.wait.until(lambda d: d.current_url.endswith("#/signin"))
            form = self.css("#signin-submit").find_element(By.XPATH, "ancestor::form")
            self.fill(form, {"email": COMPANY_EMAIL, "password": "a new long password 새 비밀번호"})
            form.find_element(By.ID, "signin-submit").click()
            self.css("article.demand")


    def people(self):
        """The company's owner (on #/settings) revokes an API key, invites a person who
        accepts from the e-mail's link, then removes that person."""
        c = self.cluster
        form = self.css("#key-form")
        self.fill(form, {"name": "ci-robot"})
        form.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
        key = self.css("#key-form + div .secret").text
        self.assertEqual(c.http("GET", "/v1/whoami", key=key)[0], 200)
        self.css("button.revoke[data-key='ci-robot']").click()
        self.driver.switch_to.alert.accept()
        self.wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "button.revoke[data-key='ci-robot']"))
        self.assertEqual(c.http("GET", "/v1/whoami", key=key)[0], 401)
        form = self.css("#invite-form")
        self.fill(form, {"email": MEMBER_EMAIL})
        form.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
        self.css("#invite-form .notice.ok")
        self.driver.find_element(By.ID, "signout").click()
        self.wait.until(lambda d: not d.find_elements(By.ID, "signout"))
        self.open(f"/accept-invitation/{self.mail.token(MEMBER_EMAIL, 'accept-invitation')}")
        self.css("#main form")
        self.shot("15c-accept-invitation")
        form = self.css("#main form")
        self.fill(form, {"name": "최팀원", "password": PASSWORD})
        form.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
        self.css("#signout")
        self.sign_in(COMPANY_EMAIL)
        self.open("/settings")
        self.shot("15d-company-members")
        row = self.css("#members-table tr[data-user]:last-child")     # oldest first: the new person
        self.assertIn(MEMBER_EMAIL, row.text)
        row.find_element(By.CSS_SELECTOR, "button.remove").click()
        self.driver.switch_to.alert.accept()
        self.wait.until(lambda d: MEMBER_EMAIL not in d.find_element(By.ID, "members-table").text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
