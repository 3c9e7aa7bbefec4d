#!/usr/bin/env python3
"""Search benchmark corpus and query generator (issue 4).

Builds N documents from the real startups (YC directory, Korean startups) and
demands (SBIR topics) in ../shared/data, scaling past the ~12.4k real ones by
re-sampling: document i copies real document i mod R and replaces ~30% of its
body words with words drawn from the real corpus' unigram distribution (so the
term frequency distribution, Zipf tail included, is kept), and appends one
sampled word to the title so names stay distinct. Demand bodies are cut to
1,000 characters (at a space) to keep 1M-doc runs of FTS5 and Xapian bounded.

Writes DOCS (JSONL: id, type, title, tags, body, industry, region, stage,
status, collaboration) and QUERIES (TSV: class, query, filter field, filter
value) with 100 queries per class chosen by document frequency in the
generated corpus: frequent, mid, rare, multi (2-3 co-occurring words),
prefix, typo, filtered (frequent term + industry), facet (frequent term with
facet counts).

Usage: search_gen_corpus.py [--data DIR] [--docs N] [--seed S] DOCS QUERIES
Only the Python standard library is used.
"""
import argparse
import collections
import gzip
import json
import os
import random
import re
import sys

STOP = set("""a about above after again against all am an and any are as at be because been
before being below between both but by can could did do does doing down during each few for
from further had has have having he her here hers him his how i if in into is it its itself
me more most my no nor not of off on once only or other our out over own same she should so
some such than that the their them then there these they this those through to too under until
up very was we were what when where which while who whom why will with would you your""".split())
WORD = re.compile(r"[a-z]{3,}")
COLLAB = ["poc", "joint-development", "investment", "procurement", "licensing"]
KR_REGIONS = ["KR-11", "KR-41", "KR-26", "KR-27", "KR-30", "KR-47"]


def load_real(data):
    docs = []
    with open(os.path.join(data, "startups", "yc_companies.jsonl"), encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            body = " ".join(x for x in (d.get("one_liner"), d.get("long_description")) if x)
            docs.append({
                "type": "startup" if d.get("stage") == "Early" else "company",
                "title": d.get("name") or "unnamed",
                "tags": [t.lower() for t in (d.get("tags") or [])][:10],
                "body": body,
                "industry": d.get("industry") or "Other",
                "region": (d.get("regions") or ["Unspecified"])[0],
                "stage": (d.get("stage") or "unknown").lower(),
                "status": "active",
            })
    with open(os.path.join(data, "startups", "kr_startups_100.json"), encoding="utf-8") as f:
        for i, d in enumerate(json.load(f)):
            cats = [c.strip() for c in (d.get("category") or "").split(",") if c.strip()]
            docs.append({
                "type": "startup",
                "title": d.get("companyName") or "이름없음",
                "tags": cats,
                "body": d.get("description") or "",
                "industry": cats[0] if cats else "기타",
                "region": KR_REGIONS[i % len(KR_REGIONS)],
                "stage": (d.get("investmentStage") or "unknown").lower().replace(" ", "-"),
                "status": "active",
            })
    path = os.path.join(data, "demands", "sbir_closed_topics_fy2008_2018.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for d in f:
            d = json.loads(d)
            agencies = d.get("agencies") or []
            if isinstance(agencies, str):
                agencies = re.findall(r"'([^']+)'", agencies)
            body = d.get("description") or ""
            docs.append({
                "type": "demand",
                "title": d.get("title") or "untitled",
                "tags": [d.get("program", "sbir").lower()],
                "body": body,
                "industry": agencies[-1] if agencies else "Other",
                "region": "US",
                "stage": "any",
                "status": "closed",
            })
    return docs


def cut(text, limit):
    if len(text) <= limit:
        return text
    at = text.rfind(" ", 0, limit)
    return text[: at if at > 0 else limit]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "..", "shared", "data"))
    ap.add_argument("--docs", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("out_docs")
    ap.add_argument("out_queries")
    args = ap.parse_args()
    if not os.path.isdir(args.data):
        print(f"search_gen_corpus: skipped, {args.data} not found", file=sys.stderr)
        return 0
    rng = random.Random(args.seed)
    real = load_real(args.data)
    unigrams = []                   # every body word occurrence: sampling = unigram distribution
    for d in real:
        unigrams.extend(d["body"].split())
    df = collections.Counter()
    industries = collections.Counter()
    cooc = []                       # per doc (sample): distinct content words, for multi-word queries
    with open(args.out_docs, "w", encoding="utf-8") as out:
        for i in range(args.docs):
            base = real[i % len(real)]
            words = base["body"].split()
            if i >= len(real):
                words = [rng.choice(unigrams) if rng.random() < 0.3 else w for w in words]
            body = " ".join(words)
            if base["type"] == "demand":
                body = cut(body, 1000)
            title = base["title"] if i < len(real) else base["title"] + " " + rng.choice(unigrams)
            doc = {
                "id": f"d{i}", "type": base["type"], "title": title, "tags": base["tags"],
                "body": body, "industry": base["industry"], "region": base["region"],
                "stage": base["stage"], "status": base["status"],
                "collaboration": rng.sample(COLLAB, rng.randint(0, 2)),
            }
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")
            terms = set(WORD.findall((title + " " + body).lower())) - STOP
            df.update(terms)
            industries[base["industry"]] += 1
            if i % 97 == 0 and len(terms) > 3:
                cooc.append(sorted(terms))
    n = args.docs
    ranked = [w for w, _ in df.most_common()]
    frequent = ranked[:100]
    mid = [w for w in ranked if 0.002 * n <= df[w] <= 0.01 * n][:1000]
    rare = [w for w in ranked if 3 <= df[w] <= 20]
    rng.shuffle(mid)
    rng.shuffle(rare)
    top_industry = industries.most_common(3)
    queries = []
    for k in range(100):
        queries.append(("frequent", frequent[k % len(frequent)], "", ""))
        queries.append(("mid", mid[k % len(mid)], "", ""))
        queries.append(("rare", rare[k % len(rare)], "", ""))
        doc_words = rng.choice(cooc)
        picks = rng.sample(doc_words, min(len(doc_words), 2 + k % 2))
        queries.append(("multi", " ".join(picks), "", ""))
        long_mid = [w for w in mid if len(w) >= 6]
        w = long_mid[k % len(long_mid)]
        queries.append(("prefix", w[:4], "", ""))
        pos = 1 + rng.randrange(len(w) - 2)
        queries.append(("typo", w[:pos] + w[pos + 1:], "", ""))
        queries.append(("filtered", frequent[k % 20], "industry", top_industry[k % 3][0]))
        queries.append(("facet", frequent[k % 20], "", ""))
    with open(args.out_queries, "w", encoding="utf-8") as out:
        for q in queries:
            out.write("\t".join(q) + "\n")
    print(f"wrote {n} docs, {len(queries)} queries; top terms: "
          + ", ".join(f"{w} {df[w] / n:.0%}" for w in frequent[:5]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
