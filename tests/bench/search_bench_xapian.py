#!/usr/bin/python3
"""Xapian side of the search benchmark (issue 4): same documents and queries
as search_bench, through Debian's python3-xapian (run with /usr/bin/python3).

Indexes DOCS (title with wdf x3, tags x1.5 rounded to 2, body; English
stemmer; boolean filter terms XI<industry>; value slots 0-3 = industry,
region, stage, type) into DB_DIR, then times each query (top 20 by BM25;
prefix class with FLAG_PARTIAL; filtered with OP_FILTER on XI; facet class
with ValueCountMatchSpy on the 4 slots and check_at_least = all docs, so
counts cover the whole match like ours). Writes OUT.json for
search_bench --xapian. Python's own overhead per query (~20-50 us) is
included in the figures.

With --reuse an existing DB_DIR holding as many documents as DOCS is queried as it is
(building 1M documents takes ~30 min at ~550 docs/s), so search_bench --xapian-db can time
Xapian's queries in the same run as ours.

Usage: /usr/bin/python3 search_bench_xapian.py DOCS QUERIES DB_DIR OUT.json [--runs R] [--max N] [--reuse]
"""
import json
import os
import shutil
import sys
import time

try:
    import xapian
except ImportError:
    print("search_bench_xapian: python3-xapian missing (apt-get install python3-xapian; use /usr/bin/python3)",
          file=sys.stderr)
    sys.exit(0)

CLASSES = ["frequent", "mid", "rare", "multi", "prefix", "typo", "filtered", "facet"]


def build(docs_path, db_dir):
    shutil.rmtree(db_dir, ignore_errors=True)
    db = xapian.WritableDatabase(db_dir, xapian.DB_CREATE_OR_OVERWRITE)
    tg = xapian.TermGenerator()
    tg.set_stemmer(xapian.Stem("english"))
    tg.set_stemming_strategy(xapian.TermGenerator.STEM_SOME)
    n = 0
    t0 = time.perf_counter()
    with open(docs_path, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            doc = xapian.Document()
            tg.set_document(doc)
            tg.index_text(d["title"], 3)
            tg.increase_termpos()
            tg.index_text(" ".join(d["tags"]), 2)
            tg.increase_termpos()
            tg.index_text(d["body"])
            doc.add_boolean_term("XI" + d["industry"])
            doc.add_value(0, d["industry"])
            doc.add_value(1, d["region"])
            doc.add_value(2, d["stage"])
            doc.add_value(3, d["type"])
            doc.set_data(d["id"])
            db.add_document(doc)
            n += 1
            if n % 100000 == 0:
                db.commit()
                print(f"xapian: {n} docs indexed, {n / (time.perf_counter() - t0):.0f} docs/s",
                      file=sys.stderr, flush=True)
    db.commit()
    rate = n / (time.perf_counter() - t0)
    db.close()
    size = sum(os.path.getsize(os.path.join(db_dir, f)) for f in os.listdir(db_dir))
    return n, rate, size


def count_lines(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def reusable(docs_path, db_dir):
    """(docs, 0 rate, bytes) of an existing database holding every document, else None."""
    try:
        db = xapian.Database(db_dir)
    except xapian.DatabaseError:
        return None
    n = db.get_doccount()
    db.close()
    if n != count_lines(docs_path):
        return None
    size = sum(os.path.getsize(os.path.join(db_dir, f)) for f in os.listdir(db_dir))
    return n, -1.0, size


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    max_per_class = int(sys.argv[sys.argv.index("--max") + 1]) if "--max" in sys.argv else 100
    args = [a for a in args if not a.isdigit()]
    docs_path, queries_path, db_dir, out_path = args[:4]
    built = reusable(docs_path, db_dir) if "--reuse" in sys.argv else None
    n, rate, size = built or build(docs_path, db_dir)
    db = xapian.Database(db_dir)
    qp = xapian.QueryParser()
    qp.set_stemmer(xapian.Stem("english"))
    qp.set_stemming_strategy(xapian.QueryParser.STEM_SOME)
    qp.set_default_op(xapian.Query.OP_OR)
    qp.set_database(db)
    queries = []
    per = {}
    with open(queries_path, encoding="utf-8") as f:
        for line in f:
            cls, q, field, value = (line.rstrip("\n").split("\t") + ["", "", ""])[:4]
            if cls in CLASSES and per.get(cls, 0) < max_per_class:
                per[cls] = per.get(cls, 0) + 1
                queries.append((cls, q, value))

    def run(cls, q, value):
        t0 = time.perf_counter()
        flags = xapian.QueryParser.FLAG_DEFAULT
        if cls == "prefix":
            flags |= xapian.QueryParser.FLAG_PARTIAL
        query = qp.parse_query(q, flags)
        if cls == "filtered":
            query = xapian.Query(xapian.Query.OP_FILTER, query, xapian.Query("XI" + value))
        enq = xapian.Enquire(db)
        enq.set_query(query)
        enq.set_weighting_scheme(xapian.BM25Weight())
        if cls == "facet":
            spies = [xapian.ValueCountMatchSpy(s) for s in range(4)]
            for s in spies:
                enq.add_matchspy(s)
            mset = enq.get_mset(0, 20, db.get_doccount())
            counts = [list(s.values()) for s in spies]
            del counts
        else:
            mset = enq.get_mset(0, 20)
        ids = [m.document.get_data() for m in mset]
        del ids
        return (time.perf_counter() - t0) * 1e3

    for cls, q, value in queries:       # warm-up
        run(cls, q, value)
    lat = {c: [] for c in CLASSES}
    for _ in range(runs):
        for cls, q, value in queries:
            lat[cls].append(run(cls, q, value))
    out = {"docs": n, "build_docs_per_s": rate, "db_bytes_per_doc": size / max(n, 1), "classes": {}}
    for c in CLASSES:
        v = sorted(lat[c])
        if v:
            out["classes"][c] = {"p50": v[int(0.5 * (len(v) - 1) + 0.5)],
                                 "p99": v[int(0.99 * (len(v) - 1) + 0.5)], "n": len(v)}
    with open(out_path, "w") as f:
        json.dump(out, f, indent=1)
    print(f"xapian: {n} docs at {rate:.0f} docs/s, {size / n:.0f} bytes/doc; "
          + ", ".join(f"{c} p99 {out['classes'][c]['p99']:.2f} ms" for c in out["classes"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
