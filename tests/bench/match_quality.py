"""Match quality on the labelled development set (issue 15 item 1): the real matcher vs a plain
BM25 computed in the same run over the same texts.

Starts a throw-away stack of built binaries (tests/lib/oimtest.py: redis-server, oim-gateway,
oim-registry, oim-matcher), creates the 6,375 companies of ../shared/data/matching/ as active
startups (name, description) and one company owning the 83 demands (title, description) through
the HTTP API, waits until the matcher has handled the whole change log, reads each demand's
matches (GET /v1/demands/{id}/matches: the matcher's top K, OIM_MATCH_TOP_K, default 20; the
list is not paginated) and prints nDCG@10, Recall@20, MRR@20 (README definitions) for the
matcher and for the README's BM25 (tests/bench/match_model.py, reproduces the README figures),
over all 83 demands and the 64 with a description, with standard errors, the ratios
matcher / BM25, the demands left without any candidate, the paired per-demand comparison
(wins/ties/losses on nDCG@10 and Recall@20) and the share of the text factor's explanation
terms that are numbers, single characters, stop words or generic/boilerplate words.

A tool, not a test: ../shared/data is used here only. Progress goes to stderr.

    /usr/bin/python3 tests/bench/match_quality.py [--build DIR] [--data DIR] [--threads N]
        [--env NAME=VALUE ...] [--json FILE] [--keep]
"""
import argparse
import concurrent.futures
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import match_model as mm  # noqa: E402


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Figures and method: tests/bench/MATCH_QUALITY.md")
    ap.add_argument("--build", default=os.environ.get("OIM_BUILD_DIR")
                    or os.path.join(HERE, "..", "..", "build"),
                    help="build directory with the binaries (default $OIM_BUILD_DIR or build)")
    ap.add_argument("--data", default=mm.DEFAULT_DATA, help="the development set's directory")
    ap.add_argument("--threads", type=int, default=4, help="concurrent HTTP clients loading")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="extra environment for the matcher (e.g. OIM_MATCH_MIN_SCORE=0.1)")
    ap.add_argument("--sample", type=int, default=0,
                    help="smoke run: load only this many companies (the winners always)")
    ap.add_argument("--no-reference", action="store_true",
                    help="skip the Python reference of the recommended model (match_model V9, "
                         "MATCH_QUALITY.md section 3; ~30 s) printed beside the matcher")
    ap.add_argument("--json", help="also write the per-demand results to this file")
    ap.add_argument("--keep", action="store_true", help="keep the stack's temp dir (logs)")
    return ap.parse_args()


def progress(text):
    sys.stderr.write(f"[match_quality {time.strftime('%H:%M:%S')}] {text}\n")
    sys.stderr.flush()


def post(c, path, body, key):
    """POST with retries on 429/503 (a daemon busy); returns the created object."""
    for attempt in range(20):
        status, reply, _ = c.http("POST", path, body, key=key, timeout=60)
        if status == 201:
            return reply
        if status not in (429, 503, 504):
            break
        time.sleep(0.2 * (attempt + 1))
    raise RuntimeError(f"POST {path} -> {status}: {reply}")


def load_orgs(c, companies, key, threads):
    """Creates every company as an active startup; returns {dataset id: org id}."""
    ids = {}
    t0 = time.monotonic()

    def one(co):
        org = post(c, "/v1/orgs", {"kind": "startup", "name": co["name"],
                                   "description": co["description"]}, key)
        return co["id"], org["id"]

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for n, (cid, oid) in enumerate(pool.map(one, companies), 1):
            ids[cid] = oid
            if n % 500 == 0 or n == len(companies):
                progress(f"startups {n}/{len(companies)} ({n / (time.monotonic() - t0):.0f}/s)")
    return ids


def settled(c, r):
    """True when the matcher's consumer group has handled and acknowledged the change log."""
    last = r("XREVRANGE", "oim:changelog", "+", "-", "COUNT", 1)
    if not last:
        return True
    for g in r("XINFO", "GROUPS", "oim:changelog"):
        info = dict(zip(g[::2], g[1::2]))
        if info[b"name"] == b"matcher":
            return info[b"pending"] == 0 and info[b"last-delivered-id"] == last[0][0]
    return False


def text_terms(match):
    """The terms the text factor's detail names ("shared terms: a, b, c", or "matched phrases
    and terms: adaptive optics, b, c"; a phrase counts as its words), without the trailing
    " (demand text given, ...)"."""
    for factor in match.get("explanation", []):
        if factor.get("factor") == "text":
            detail = factor.get("detail", "").split(" (demand ", 1)[0]
            for label in ("shared terms: ", "matched phrases and terms: "):
                if detail.startswith(label):
                    return [w for t in detail[len(label):].split(",") for w in t.split()]
    return []


def term_kinds(terms):
    """Counts of explanation terms by kind: number (contains a digit: "2014", "5g"), single
    character, stop word (the README's list or the analyser's English list), generic or
    boilerplate (match_model.GENERIC_EN / GENERIC_KO). A term counts once, first kind."""
    counts = {"number": 0, "single character": 0, "stop word": 0, "generic/boilerplate": 0}
    for t in terms:
        if any(ch.isdigit() for ch in t):
            counts["number"] += 1
        elif len(t) == 1:
            counts["single character"] += 1
        elif t in mm.SMALL_STOPWORDS or t in mm.ENGLISH_STOPWORDS:
            counts["stop word"] += 1
        elif mm.is_generic(t.lower()):
            counts["generic/boilerplate"] += 1
    return counts


def run_stack(args, companies, demands):
    """Loads everything through the API of a fresh stack; returns ({demand id: [match]},
    seconds the matcher took for the demands)."""
    os.environ["OIM_BUILD_DIR"] = os.path.abspath(args.build)
    sys.path.insert(0, os.path.join(HERE, "..", "lib"))
    from oimtest import AGENCY_KEY, Cluster, Resp, wait_for
    extra = dict(e.split("=", 1) for e in args.env)
    with Cluster(keep=args.keep) as c:
        c.start_redis()
        c.start_gateway(OIM_REQUIRED_SERVICES="registry,matcher")
        c.start("registry", OIM_LOG_LEVEL="warn")
        c.start("matcher", OIM_LOG_LEVEL="warn", **extra)
        c.wait_registered({"registry": 1, "matcher": 1}, timeout=60)
        progress(f"stack up in {c.dir} (binaries from {args.build})")
        r = Resp(c.redis_sock)
        owner = post(c, "/v1/orgs", {"kind": "company", "name": "SBIR programme offices"},
                     AGENCY_KEY)
        org_to_co = {oid: cid for cid, oid in
                     load_orgs(c, companies, AGENCY_KEY, args.threads).items()}
        wait_for(lambda: settled(c, r), 1800, "the matcher to take in the startups", 0.2)
        progress("startups handled by the matcher; posting the demands")
        t0 = time.monotonic()
        dem_ids = {}
        for d in demands:
            body = {"title": d["title"]}
            if d.get("description"):
                body["description"] = d["description"]
            dem_ids[d["id"]] = post(c, "/v1/demands", body, owner["api_key"])["id"]
        wait_for(lambda: settled(c, r), 1800, "the matcher to match the demands", 0.05)
        took = time.monotonic() - t0
        progress(f"{len(demands)} demands matched in {took:.1f} s; reading matches")
        matches = {}
        for d in demands:
            status, body, _ = c.http("GET", f"/v1/demands/{dem_ids[d['id']]}/matches",
                                     key=AGENCY_KEY)
            if status != 200:
                raise RuntimeError(f"matches of {d['id']} -> {status}: {body}")
            matches[d["id"]] = body.get("items", [])
            for m in matches[d["id"]]:
                m["company"] = org_to_co.get(m.get("startup_id"), m.get("startup_id"))
        r.close()
        return matches, took


def main():
    args = parse_args()
    progress(f"reading {args.data}")
    companies, demands, qrels = mm.load(args.data)
    if args.sample:
        winners = set().union(*qrels.values())
        companies = [c for i, c in enumerate(companies) if i < args.sample or c["id"] in winners]
    t0 = time.monotonic()
    bm25 = mm.baseline(companies, demands)
    reference = None
    if not args.no_reference:
        reference = mm.run_model(mm.Corpus(companies), demands, mm.RECOMMENDED)
    progress(f"BM25 over {len(companies)} companies x {len(demands)} demands in "
             f"{time.monotonic() - t0:.1f} s")
    matches, took = run_stack(args, companies, demands)
    rankings = {did: [m["company"] for m in ms] for did, ms in matches.items()}
    report(args, demands, qrels, bm25, rankings, matches, took, reference)


def fmt(stats):
    return "  ".join(f"{m:.4f} ±{se:.3f}" for m, se in stats)


def report(args, demands, qrels, bm25, rankings, matches, took, reference=None):
    k = max((len(ms) for ms in matches.values()), default=0)
    print(f"match quality: {len(demands)} demands, matcher top K as served (largest list {k}), "
          f"matcher took {took:.1f} s for the demands")
    out = {"demands": {}}
    for label, keep in (("all 83 demands", None), ("64 with description", mm.with_description)):
        m = mm.evaluate(rankings, demands, qrels, keep)
        b = mm.evaluate(bm25, demands, qrels, keep)
        sm, sb = mm.summary(m), mm.summary(b)
        sel = [d for d in demands if keep is None or keep(d)]
        empty = sum(1 for d in sel if not matches[d["id"]])
        print(f"\n{label} ({len(sel)}):            nDCG@10        Recall@20      MRR@20")
        print(f"  matcher                      {fmt(sm)}")
        print(f"  BM25 (README baseline)       {fmt(sb)}")
        print("  ratio matcher / BM25         " + "  ".join(
            f"{x[0] / y[0] if y[0] else float('nan'):.2f}x        " for x, y in zip(sm, sb)))
        if reference:
            sr = mm.summary(mm.evaluate(reference, demands, qrels, keep))
            print(f"  reference model (Python V9)  {fmt(sr)}")
        for metric, name in ((0, "nDCG@10"), (1, "Recall@20")):
            w, t, l = mm.paired(m, b, metric)
            diff, se = mm.paired_se(m, b, metric)
            print(f"  paired on {name:9s}: matcher wins {w}, ties {t}, loses {l}; mean "
                  f"difference {diff:+.4f} ±{se:.4f}")
        print(f"  demands with no candidate: {empty} of {len(sel)} ({empty / len(sel):.1%})")
    terms = [t for ms in matches.values() for m in ms for t in text_terms(m)]
    kinds = term_kinds(terms)
    bad = sum(kinds.values())
    print(f"\nexplanation terms (text factor detail, all matches): {len(terms)}; numbers, "
          f"single characters, stop words or generic: {bad} ({bad / max(len(terms), 1):.1%})")
    for kind, n in kinds.items():
        print(f"  {kind:20s} {n:6d} ({n / max(len(terms), 1):.1%})")
    if args.json:
        for d in demands:
            out["demands"][d["id"]] = {"matcher": rankings.get(d["id"], []),
                                       "bm25": bm25[d["id"]],
                                       "relevant": sorted(qrels[d["id"]]),
                                       "terms": [text_terms(x) for x in matches[d["id"]]],
                                       "matches": [{k: x.get(k) for k in
                                                    ("company", "score", "explanation")}
                                                   for x in matches[d["id"]]]}
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
