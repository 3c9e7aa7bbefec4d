#!/usr/bin/env python3
"""fit-weights: fits the matcher's factor weights (OIM_MATCH_WEIGHTS) and its minimum score
(OIM_MATCH_MIN_SCORE) to labelled matches, and prints them with the figures before and after.

Two sources of labels:
  --candidates FILE   the development set: the JSON that tests/bench/match_quality.py --json
                      writes (each demand's matches with their per-factor values, and the
                      companies that really won it). Run the matcher with a deep list for it
                      (--env OIM_MATCH_TOP_K=100) so that the winners are among the candidates.
  --api URL --key KEY real outcomes on a running platform (an agency key): every demand's
                      matches with the factor values recorded in their explanation; a match
                      a side was interested in, or that got connected, counts 1; a declined
                      one 0; a suggestion nobody answered is not a label. Refuses to fit on
                      fewer than --min-labels labels or --min-demands demands (default 200 / 20).

Fitting (no numpy: Debian's python3 alone):
  * weights: coordinate ascent on the mean nDCG@10 over demands (the ranking a demand's owner
    sees), each factor's weight multiplied in turn by 0.5 ... 2 until no step helps, ties keep
    the current weights; a factor the demand does not constrain is left out of its score and
    the others are scaled up, exactly as the matcher does (matcher_model.h). A factor whose
    value never varies within a demand cannot be fitted and keeps its weight (said so).
    Leave-one-out over demands is printed so an overfit shows.
  * minimum score: the highest score that still keeps --keep (default 0.95) of the positive
    labels, and the strength bands (strong / good) at the positives' median and lower quartile.
The output is one line to paste into the configuration (.env / docker-compose, README).

    python3 deploy/fit-weights.py --candidates /tmp/mq.json
    python3 deploy/fit-weights.py --api http://localhost:8080 --key $OIM_AGENCY_KEY
"""
import argparse
import json
import math
import sys
import urllib.request

FACTORS = ["text", "tags", "industry", "region", "stage"]
STEPS = [0.5, 0.7, 0.85, 1.2, 1.4, 2.0]
POSITIVE_STATES = {"interested", "connected", "poc", "contract"}  # issue 17 outcomes


def ndcg10(scored):
    """scored: [(score, label, id)]; nDCG@10 with binary gain, ties by id."""
    ranked = sorted(scored, key=lambda x: (-x[0], x[2]))
    dcg = sum(1 / math.log2(i + 2) for i, (_, lab, _) in enumerate(ranked[:10]) if lab)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(10, sum(lab for _, lab, _ in scored))))
    return dcg / ideal if ideal else 0.0


def score(cand, weights):
    """The matcher's combination: applicable factors only, weights renormalised."""
    total = sum(weights[f] for f in cand["applicable"])
    if total <= 0:
        return 0.0
    return sum(weights[f] * cand["values"][f] for f in cand["applicable"]) / total


def mean_ndcg(demands, weights):
    if not demands:
        return 0.0
    return sum(ndcg10([(score(c, weights), c["label"], c["id"]) for c in d])
               for d in demands) / len(demands)


def fit(demands, weights, fitted):
    weights = dict(weights)
    best = mean_ndcg(demands, weights)
    improved = True
    while improved:
        improved = False
        for f in fitted:
            for step in STEPS:
                trial = dict(weights, **{f: weights[f] * step})
                value = mean_ndcg(demands, trial)
                if value > best + 1e-9:
                    weights, best, improved = trial, value, True
    total = sum(weights.values())
    return {f: w / total for f, w in weights.items()}, best


def candidate(match, label):
    """A labelled candidate from a match's explanation."""
    values, applicable = {}, []
    for e in match.get("explanation", match.get("factors", [])):
        f = e.get("factor")
        if f in FACTORS:
            values[f] = float(e.get("value", 0))
            if float(e.get("weight", 0)) > 0:
                applicable.append(f)
    for f in FACTORS:
        values.setdefault(f, 0.0)
    return {"id": match.get("startup_id", match.get("company", "")), "values": values,
            "applicable": applicable, "label": label, "score": float(match.get("score", 0))}


def from_candidates(path):
    with open(path) as fh:
        data = json.load(fh)
    demands = []
    for did, d in data["demands"].items():
        relevant = set(d.get("relevant", []))
        cands = [candidate(m, 1 if m.get("company") in relevant else 0)
                 for m in d.get("matches", [])]
        if cands and relevant:
            demands.append(cands)
    return demands, data.get("weights")


def http_json(base, path, key):
    req = urllib.request.Request(base.rstrip("/") + path,
                                 headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def from_api(base, key):
    demands, cursor = [], None
    while True:
        page = http_json(base, "/v1/demands?limit=100" + (f"&cursor={cursor}" if cursor else ""),
                         key)
        for dem in page.get("items", []):
            matches = http_json(base, f"/v1/demands/{dem['id']}/matches", key).get("items", [])
            cands = []
            for m in matches:
                state = m.get("state", "suggested")
                if state in POSITIVE_STATES or state == "declined":
                    cands.append(candidate(m, 1 if state in POSITIVE_STATES else 0))
            if any(c["label"] for c in cands) and len(cands) > 1:
                demands.append(cands)
        cursor = page.get("next_cursor")
        if not cursor:
            return demands


def thresholds(demands, keep):
    positives = sorted(c["score"] for d in demands for c in d if c["label"])
    if not positives:
        return None
    at = lambda q: positives[min(len(positives) - 1, int(q * len(positives)))]
    return {"min_score": at(1 - keep), "good": at(0.25), "strong": at(0.5)}


def parse_weights(spec):
    weights = dict(zip(FACTORS, [0.4, 0.25, 0.15, 0.1, 0.1]))
    for part in (spec or "").split(","):
        if "=" in part:
            name, value = part.split("=", 1)
            weights[name.strip()] = float(value)
    return weights


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--candidates", help="match_quality.py --json output (development set)")
    ap.add_argument("--api", help="a running gateway's base URL (real outcomes)")
    ap.add_argument("--key", help="an agency API key (with --api)")
    ap.add_argument("--weights", help="starting weights (default: the matcher's defaults)")
    ap.add_argument("--keep", type=float, default=0.95, help="share of positives the minimum "
                    "score keeps (default 0.95)")
    ap.add_argument("--min-labels", type=int, default=200)
    ap.add_argument("--min-demands", type=int, default=20)
    args = ap.parse_args()
    if bool(args.candidates) == bool(args.api) or (args.api and not args.key):
        ap.error("give --candidates FILE, or --api URL with --key KEY")
    demands, spec = from_candidates(args.candidates) if args.candidates else \
        (from_api(args.api, args.key), None)
    labels = sum(len(d) for d in demands)
    if args.api and (labels < args.min_labels or len(demands) < args.min_demands):
        print(f"fit-weights: {labels} labels over {len(demands)} demands: not enough yet "
              f"(need {args.min_labels} / {args.min_demands}); nothing fitted")
        return 2
    weights = parse_weights(args.weights or spec)
    varying = [f for f in FACTORS if any(len({c["values"][f] for c in d}) > 1 for d in demands)]
    print(f"labelled demands {len(demands)}, candidates {labels}, positives "
          f"{sum(c['label'] for d in demands for c in d)}")
    print(f"factors that vary within a demand (fitted): {', '.join(varying) or 'none'}; "
          f"kept as given: {', '.join(f for f in FACTORS if f not in varying) or 'none'}")
    fitted, best = fit(demands, weights, varying)
    print(f"mean nDCG@10 over the candidates: start {mean_ndcg(demands, weights):.4f} -> "
          f"fitted {best:.4f}")
    if len(demands) > 2 and varying:
        loo = sum(mean_ndcg([d], fit(demands[:i] + demands[i + 1:], weights, varying)[0])
                  for i, d in enumerate(demands)) / len(demands)
        print(f"leave-one-out (weights fitted without the demand scored): {loo:.4f}")
    bands = thresholds(demands, args.keep)
    line = ",".join(f"{f}={fitted[f]:.3f}" for f in FACTORS)
    print(f"\nOIM_MATCH_WEIGHTS={line}")
    if bands:
        print(f"OIM_MATCH_MIN_SCORE={bands['min_score']:.3f}   # keeps {args.keep:.0%} of the "
              f"positives (scores as recorded; strength good >= {bands['good']:.3f}, strong >= "
              f"{bands['strong']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
