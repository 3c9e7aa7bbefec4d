"""Korean match quality (issue 15 item 8): Korean demands against Korean and English startups,
judged by category, through the API of a real stack, beside a BM25 of the same run.

Part A, Korean -> Korean: the 100 Korean startups of ../shared/data/startups/kr_startups_100.json
(name + one-sentence description; their category is NOT loaded, it is the judgement) and one
Korean demand per category, written here from the category's own subject (KO_DEMANDS); the
relevant startups of a demand are those whose category list holds that category. Also three
demands made only of generic words, which must get no match at all.

Part B, Korean -> English: 2,000 YC startups of ../shared/data/startups/yc_companies.jsonl
(name, one-liner, description; tags and industries NOT loaded) and one Korean demand per YC
tag (EN_DEMANDS); relevant = the startups carrying that tag. Without a bilingual glossary a
Korean demand shares no word with an English profile; run with the matcher's glossary on and
off (--env OIM_MATCH_GLOSSARY=0) to measure what it brings.

Prints per part: nDCG@10, P@5, Recall@20 of the matcher and of BM25 over the same texts
(Part A: character-bigram BM25, which reads Hangul well; Part B: no Korean BM25 can match
English text: 0), the demands without candidates, and the generic demands' matches (want 0).

    /usr/bin/python3 tests/bench/match_korean.py [--build DIR] [--env NAME=VALUE ...]
        [--part a|b|ab] [--yc N]
A tool, not a test: ../shared/data is used here only.
"""
import argparse
import json
import math
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import match_quality as mq  # noqa: E402

DATA = os.path.join(HERE, "..", "..", "..", "shared", "data", "startups")

#  Part A: one demand per Korean category, in the words a company would write.
KO_DEMANDS = {
    "커머스": "온라인 쇼핑몰과 모바일 커머스 판매 채널을 함께 키울 파트너를 찾습니다",
    "패션": "의류 패션 브랜드의 온라인 판매와 스타일 추천을 함께 할 스타트업",
    "푸드/농업": "신선 식품과 농산물의 산지 직송 유통, 식자재 공급",
    "금융/보험/핀테크": "간편 결제, 송금, 보험 비교와 자산 관리를 위한 핀테크",
    "헬스케어/바이오": "병원과 환자를 잇는 디지털 헬스케어, 바이오 의료 데이터",
    "교육": "온라인 강의와 학습 관리로 학생의 교육 성과를 높이는 에듀테크",
    "AI/딥테크/블록체인": "생성 AI 모델과 딥러닝, 블록체인 기반 자동화",
    "환경/에너지": "폐기물 배출과 재활용, 에너지 절감을 위한 친환경 사업",
    "부동산/건설": "부동산 매물 중개와 건설 현장 관리의 디지털 전환",
    "물류": "배송 물류와 창고 운영, 화물 운송의 효율화",
    "콘텐츠/예술": "웹툰, 음악, 영상 콘텐츠의 제작과 유통",
    "인사/비즈니스/법률": "채용과 인사 관리, 법률 문서 업무를 돕는 파트너",
    "광고/마케팅": "디지털 광고 캠페인과 인플루언서 마케팅",
    "통신/보안/데이터": "데이터 보안과 통신 네트워크, 개인정보 보호",
    "뷰티/화장품": "화장품과 뷰티 브랜드의 제조와 판매",
    "소셜미디어/커뮤니티": "관심사 기반 소셜 커뮤니티와 모임",
    "여행/레저": "여행 숙박 예약과 레저 액티비티",
    "유아/출산": "육아와 출산 준비, 아이 돌봄",
}
GENERIC_DEMANDS = [
    "AI 기반 솔루션 플랫폼 서비스 개발",
    "혁신적인 기술을 가진 스타트업 기업을 찾습니다",
    "innovative platform development solution for companies",
]

#  Part B: one Korean demand per YC tag.
EN_DEMANDS = {
    "Fintech": "핀테크 결제와 송금, 대출을 자동화할 금융 기술",
    "Healthcare": "병원과 환자를 위한 헬스케어 의료 소프트웨어",
    "Biotech": "신약 개발과 단백질, 항체 치료제를 연구하는 바이오 기업",
    "Robotics": "제조 현장의 로봇과 자동화 장비",
    "Climate": "탄소 배출을 줄이는 기후 기술과 재생에너지",
    "Logistics": "물류 배송과 공급망, 창고 관리",
    "Education": "온라인 교육과 학습 도구",
    "Security": "사이버보안과 인증, 암호화",
    "Real Estate": "부동산 거래와 임대 관리",
    "Insurance": "보험 청구와 보험 상품",
    "Gaming": "게임 개발과 게임 플랫폼",
    "Medical Devices": "의료기기와 진단 장비",
    "Recruiting": "채용 과정과 인재 채용 자동화",
    "Construction": "건설 현장과 건축 공정 관리",
    "Computer Vision": "컴퓨터비전 영상인식과 이미지 분석",
    "Payments": "결제 처리와 간편 결제",
}


def bigram_tokens(text):
    """Hangul as character bigrams, other words lower-cased: the KorQuAD-strong baseline."""
    out = []
    for w in re.findall(r"[0-9A-Za-z]+|[\uac00-\ud7a3]+", text):
        if re.match(r"[\uac00-\ud7a3]", w):
            out += [w[i:i + 2] for i in range(max(1, len(w) - 1))]
        else:
            out.append(w.lower())
    return out


def bm25_rank(docs, query, k1=0.9, b=0.4):
    toks = {i: bigram_tokens(t) for i, t in docs.items()}
    n = len(toks)
    avg = sum(map(len, toks.values())) / max(n, 1)
    df = {}
    for ts in toks.values():
        for t in set(ts):
            df[t] = df.get(t, 0) + 1
    q = set(bigram_tokens(query))
    scores = {}
    for i, ts in toks.items():
        s = 0.0
        for t in q:
            tf = ts.count(t)
            if tf:
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                s += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(ts) / avg))
        if s > 0:
            scores[i] = s
    return [i for i, _ in sorted(scores.items(), key=lambda x: (-x[1], x[0]))]


def metrics(ranking, relevant):
    gains = [1 if x in relevant else 0 for x in ranking]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:10]))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
    return {"ndcg10": dcg / ideal if ideal else 0, "p5": sum(gains[:5]) / 5,
            "r20": sum(gains[:20]) / len(relevant) if relevant else 0}


def run(args, startups, demands):
    """startups: {key: {name, description}}; demands: {key: text}. Returns {demand key:
    [startup key ...]} from the matcher."""
    os.environ["OIM_BUILD_DIR"] = os.path.abspath(args.build)
    from oimtest import AGENCY_KEY, Cluster, Resp, wait_for
    extra = dict(e.split("=", 1) for e in args.env)
    with Cluster() as c:
        c.start_redis()
        c.start_gateway(OIM_REQUIRED_SERVICES="registry,matcher")
        c.start("registry", OIM_LOG_LEVEL="warn")
        c.start("matcher", OIM_LOG_LEVEL="warn", **extra)
        c.wait_registered({"registry": 1, "matcher": 1}, timeout=60)
        r = Resp(c.redis_sock)
        owner = mq.post(c, "/v1/orgs", {"kind": "company", "name": "수요기업"}, AGENCY_KEY)
        companies = [{"id": k, "name": v["name"], "description": v["description"]}
                     for k, v in startups.items()]
        org_to_key = {oid: k for k, oid in mq.load_orgs(c, companies, AGENCY_KEY, 4).items()}
        wait_for(lambda: mq.settled(c, r), 600, "the matcher to take in the startups", 0.2)
        ids = {k: mq.post(c, "/v1/demands", {"title": t[:200], "description": t},
                          owner["api_key"])["id"] for k, t in demands.items()}
        wait_for(lambda: mq.settled(c, r), 600, "the matcher to match the demands", 0.05)
        out = {}
        for k, did in ids.items():
            status, body, _ = c.http("GET", f"/v1/demands/{did}/matches", key=AGENCY_KEY)
            out[k] = [org_to_key.get(m["startup_id"]) for m in body.get("items", [])]
        r.close()
        return out


def report(title, demands, judged, ranked, baseline):
    print(f"\n{title}")
    print(f"  {'demand':24s} {'rel':>4s}  matcher nDCG@10 P@5 R@20   BM25 nDCG@10 P@5 R@20")
    sums = {"m": {}, "b": {}}
    empty = 0
    for k in demands:
        rel = judged.get(k, set())
        if not rel:
            continue
        m, b = metrics(ranked.get(k, []), rel), metrics(baseline.get(k, []), rel)
        empty += not ranked.get(k)
        for side, v in (("m", m), ("b", b)):
            for name, x in v.items():
                sums[side][name] = sums[side].get(name, 0) + x
        print(f"  {k:24s} {len(rel):4d}  {m['ndcg10']:.3f} {m['p5']:.2f} {m['r20']:.2f}"
              f"            {b['ndcg10']:.3f} {b['p5']:.2f} {b['r20']:.2f}")
    n = sum(1 for k in demands if judged.get(k))
    mean = {s: {k: v / n for k, v in d.items()} for s, d in sums.items()}
    print(f"  mean over {n}: matcher nDCG@10 {mean['m']['ndcg10']:.4f} P@5 {mean['m']['p5']:.3f}"
          f" R@20 {mean['m']['r20']:.3f} | BM25 nDCG@10 {mean['b']['ndcg10']:.4f} P@5 "
          f"{mean['b']['p5']:.3f} R@20 {mean['b']['r20']:.3f}; demands without candidates: "
          f"{empty}")


def part_a(args):
    rows = json.load(open(os.path.join(args.data, "kr_startups_100.json")))
    startups = {f"kr{i:03d}": {"name": r["companyName"], "description": r["description"]}
                for i, r in enumerate(rows)}
    cats = {f"kr{i:03d}": set(r["category"].split(",")) for i, r in enumerate(rows)}
    demands = dict(KO_DEMANDS)
    demands.update({f"generic{i}": t for i, t in enumerate(GENERIC_DEMANDS)})
    ranked = run(args, startups, demands)
    judged = {c: {k for k, cs in cats.items() if c in cs} for c in KO_DEMANDS}
    docs = {k: v["name"] + "\n" + v["description"] for k, v in startups.items()}
    baseline = {c: bm25_rank(docs, t) for c, t in KO_DEMANDS.items()}
    report("Part A: Korean demands -> 100 Korean startups (judged by category)", KO_DEMANDS,
           judged, ranked, baseline)
    for i, t in enumerate(GENERIC_DEMANDS):
        print(f"  generic demand '{t}': {len(ranked.get(f'generic{i}', []))} matches (want 0)")


def part_b(args):
    rows = [json.loads(line) for line in open(os.path.join(args.data, "yc_companies.jsonl"))]
    rows = [r for r in rows if r.get("long_description") or r.get("one_liner")][:args.yc]
    startups = {f"yc{r['id']}": {"name": r["name"], "description":
                                 (r.get("one_liner") or "") + "\n" + (r.get("long_description") or "")}
                for r in rows}
    tags = {f"yc{r['id']}": set(r.get("tags", [])) for r in rows}
    ranked = run(args, startups, EN_DEMANDS)
    judged = {t: {k for k, ts in tags.items() if t in ts} for t in EN_DEMANDS}
    report(f"Part B: Korean demands -> {len(rows)} English (YC) startups (judged by tag)",
           EN_DEMANDS, judged, ranked, {t: [] for t in EN_DEMANDS})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("OIM_BUILD_DIR")
                    or os.path.join(HERE, "..", "..", "build"))
    ap.add_argument("--data", default=DATA, help="../shared/data/startups")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="extra environment for the matcher (e.g. OIM_MATCH_GLOSSARY=0)")
    ap.add_argument("--part", default="ab", help="a, b or ab (default)")
    ap.add_argument("--yc", type=int, default=2000, help="YC startups loaded in part B")
    args = ap.parse_args()
    t0 = time.monotonic()
    if "a" in args.part:
        part_a(args)
    if "b" in args.part:
        part_b(args)
    print(f"\n({time.monotonic() - t0:.0f} s; matcher env: {' '.join(args.env) or 'defaults'})")


if __name__ == "__main__":
    main()
