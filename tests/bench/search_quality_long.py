"""Search with a long query on the labelled development set (issue 15 item 7): GET /v1/search
with a pasted demand as q, and with like=<demand id>, against a plain BM25 computed in the same
run over the same texts.

Starts a throw-away stack of built binaries (tests/lib/oimtest.py: redis-server, oim-gateway,
oim-registry, oim-search), creates the 6,375 companies of ../shared/data/matching/ as active
startups (name, description: tests/bench/match_quality.py's loader) and one company owning the
83 demands (title, description), waits until the search daemon has indexed them all, then for
each demand reads the first page of 20 of
  * q:    GET /v1/search?type=startup&limit=20&q=<title + "\\n" + description>
  * like: GET /v1/search?type=startup&limit=20&like=<demand id>
and prints nDCG@10, Recall@20, MRR@20 (README definitions, tests/bench/match_model.py) beside
the README's BM25 (match_model.baseline), over all 83 demands and the 64 with a description,
with standard errors, the ratio to BM25 and the paired per-demand comparison.

A tool, not a test: ../shared/data is used here only. Progress goes to stderr.

    /usr/bin/python3 tests/bench/search_quality_long.py [--build DIR] [--data DIR]
        [--threads N] [--sample N] [--json FILE] [--keep]
"""
import argparse
import json
import os
import sys
import time
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import match_model as mm  # noqa: E402
from match_quality import fmt, load_orgs, post, progress  # noqa: E402

PAGE = 20


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("OIM_BUILD_DIR")
                    or os.path.join(HERE, "..", "..", "build"),
                    help="build directory with the binaries (default $OIM_BUILD_DIR or build)")
    ap.add_argument("--data", default=mm.DEFAULT_DATA, help="the development set's directory")
    ap.add_argument("--threads", type=int, default=4, help="concurrent HTTP clients loading")
    ap.add_argument("--sample", type=int, default=0,
                    help="smoke run: load only this many companies (the winners always)")
    ap.add_argument("--json", help="also write the per-demand rankings to this file")
    ap.add_argument("--keep", action="store_true", help="keep the stack's temp dir (logs)")
    return ap.parse_args()


def search(c, key, **params):
    """One page of startups; returns the hit ids (raises on an error status)."""
    query = "&".join(f"{k}={quote(str(v))}" for k, v in params.items())
    status, body, _ = c.http("GET", f"/v1/search?type=startup&limit={PAGE}&{query}", key=key,
                             timeout=60)
    if status != 200:
        raise RuntimeError(f"search {query[:80]}... -> {status}: {str(body)[:200]}")
    return [h["id"] for h in body["hits"]]


def indexed(c, key, kind, n):
    """True when the index holds n documents of this type (or more)."""
    status, body, _ = c.http("GET", f"/v1/search?type={kind}&limit=1&facets=none", key=key)
    return status == 200 and body["total"] >= n


def run_stack(args, companies, demands):
    """Loads everything through the API of a fresh stack; returns ({mode: {demand id: [company
    id]}}, {mode: seconds for all the demands' queries})."""
    os.environ["OIM_BUILD_DIR"] = os.path.abspath(args.build)
    sys.path.insert(0, os.path.join(HERE, "..", "lib"))
    from oimtest import AGENCY_KEY, Cluster, wait_for
    with Cluster(keep=args.keep) as c:
        c.start_redis()
        c.start_gateway(OIM_REQUIRED_SERVICES="registry,search")
        c.start("registry", OIM_LOG_LEVEL="warn")
        c.start("search", OIM_LOG_LEVEL="warn")
        c.wait_registered({"registry": 1, "search": 1}, timeout=60)
        progress(f"stack up in {c.dir} (binaries from {args.build})")
        owner = post(c, "/v1/orgs", {"kind": "company", "name": "SBIR programme offices"},
                     AGENCY_KEY)
        org_to_co = {oid: cid for cid, oid in
                     load_orgs(c, companies, AGENCY_KEY, args.threads).items()}
        dem_ids = {}
        for d in demands:
            body = {"title": d["title"]}
            if d.get("description"):
                body["description"] = d["description"]
            dem_ids[d["id"]] = post(c, "/v1/demands", body, owner["api_key"])["id"]
        wait_for(lambda: indexed(c, AGENCY_KEY, "startup", len(companies))
                 and indexed(c, AGENCY_KEY, "demand", len(demands)), 600, "the index to fill", 0.2)
        progress("indexed; querying")
        out, took = {"q": {}, "like": {}}, {}
        for mode in out:
            t0 = time.monotonic()
            for d in demands:
                if mode == "q":
                    text = d["title"] + "\n" + (d.get("description") or "")
                    hits = search(c, owner["api_key"], q=text)
                else:
                    hits = search(c, owner["api_key"], like=dem_ids[d["id"]])
                out[mode][d["id"]] = [org_to_co.get(h, h) for h in hits]
            took[mode] = time.monotonic() - t0
        return out, took


def report(demands, qrels, bm25, runs, took):
    print(f"search with a long query: {len(demands)} demands, first page of {PAGE} startups")
    for label, keep in (("all 83 demands", None), ("64 with description", mm.with_description)):
        b = mm.evaluate(bm25, demands, qrels, keep)
        sb = mm.summary(b)
        n = len(b)
        print(f"\n{label} ({n}):                nDCG@10        Recall@20      MRR@20")
        print(f"  BM25 (README baseline)           {fmt(sb)}")
        for mode, rankings in runs.items():
            s = mm.evaluate(rankings, demands, qrels, keep)
            ss = mm.summary(s)
            name = "search q=<title+description>" if mode == "q" else "search like=<demand id>"
            print(f"  {name:32s} {fmt(ss)}")
            print("    ratio to BM25                  " + "  ".join(
                f"{x[0] / y[0] if y[0] else float('nan'):.2f}x        " for x, y in zip(ss, sb)))
            for metric, mname in ((0, "nDCG@10"), (1, "Recall@20")):
                w, t, l = mm.paired(s, b, metric)
                diff, se = mm.paired_se(s, b, metric)
                print(f"    paired on {mname:9s}: wins {w}, ties {t}, losses {l}; mean "
                      f"difference {diff:+.4f} ±{se:.4f}")
    print("\nquery time through the API (sequential, one client): " + ", ".join(
        f"{mode} {1000 * t / max(len(demands), 1):.1f} ms/demand" for mode, t in took.items()))


def main():
    args = parse_args()
    progress(f"reading {args.data}")
    companies, demands, qrels = mm.load(args.data)
    if args.sample:
        winners = set().union(*qrels.values())
        companies = [c for i, c in enumerate(companies) if i < args.sample or c["id"] in winners]
    bm25 = mm.baseline(companies, demands)
    runs, took = run_stack(args, companies, demands)
    report(demands, qrels, bm25, runs, took)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"bm25": bm25, **runs}, fh, indent=1)


if __name__ == "__main__":
    main()
