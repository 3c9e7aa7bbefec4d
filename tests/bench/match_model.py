"""match_model — offline reference models for demand -> startup text matching (issue 15).

Reads the labelled development set ../shared/data/matching/ (83 SBIR topics as demands,
6,375 SBIR firms as startups, 89 winners; its README) and ranks every company for every
demand with pure-Python re-implementations of candidate text-scoring models: the README's
plain BM25 baseline (reproduced exactly: 0.1822 / 0.3193 / 0.1537) and the variants studied
for the matcher. No stack, no build: `/usr/bin/python3 tests/bench/match_model.py`.
tests/bench/match_quality.py imports the data loading, the baseline and the metrics from here.
Results and the recommended model: tests/bench/MATCH_QUALITY.md.

    /usr/bin/python3 tests/bench/match_model.py [--data DIR] [--variants a,b,...] [--cv]
"""
import argparse
import collections
import gzip
import json
import math
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "data", "matching"))

# -- data -----------------------------------------------------------------------------------


def load(data_dir=DEFAULT_DATA):
    """(companies, demands, qrels {demand id: set of company ids}) of the development set."""
    def lines(name):
        with gzip.open(os.path.join(data_dir, name), "rt", encoding="utf-8") as fh:
            return [line for line in fh if line.strip()]
    companies = [json.loads(x) for x in lines("companies.jsonl.gz")]
    demands = [json.loads(x) for x in lines("demands.jsonl.gz")]
    qrels = {}
    for line in lines("qrels.tsv.gz"):
        did, cid, _ = line.rstrip("\n").split("\t")
        qrels.setdefault(did, set()).add(cid)
    return companies, demands, qrels


def with_description(demand):
    """The README's 64-demand subset: a description of at least 50 characters."""
    return len(demand.get("description") or "") >= 50


# -- metrics --------------------------------------------------------------------------------


def per_demand(ranked, relevant):
    """(nDCG@10, Recall@20, MRR@20) of one ranked id list against a set of relevant ids
    (binary gain; MRR@20: 1/rank of the first relevant id within the top 20, else 0)."""
    dcg = sum(1 / math.log2(i + 2) for i, x in enumerate(ranked[:10]) if x in relevant)
    idcg = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    recall = len(relevant & set(ranked[:20])) / len(relevant)
    mrr = next((1 / (i + 1) for i, x in enumerate(ranked[:20]) if x in relevant), 0.0)
    return dcg / idcg, recall, mrr


def evaluate(rankings, demands, qrels, keep=None):
    """{demand id: (ndcg, recall, mrr)} over the demands (those keep(demand) accepts)."""
    return {d["id"]: per_demand(rankings.get(d["id"], []), qrels[d["id"]])
            for d in demands if keep is None or keep(d)}


def mean_se(values):
    """(mean, standard error of the mean)."""
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, math.sqrt(var / n)


def summary(scores):
    """[(mean, se)] for nDCG@10, Recall@20, MRR@20 of evaluate()'s result."""
    return [mean_se([s[m] for s in scores.values()]) for m in range(3)]


def paired(a, b, metric=0):
    """(wins, ties, losses) of a against b per demand on one metric (0 nDCG, 1 recall)."""
    wins = ties = losses = 0
    for did in a:
        x, y = a[did][metric], b[did][metric]
        if abs(x - y) < 1e-12:
            ties += 1
        elif x > y:
            wins += 1
        else:
            losses += 1
    return wins, ties, losses


def paired_se(a, b, metric=0):
    """(mean difference a - b, its standard error) per demand on one metric."""
    return mean_se([a[d][metric] - b[d][metric] for d in a])


# -- the README baseline: plain BM25 --------------------------------------------------------

# Lucene's classic English stopword list (the README's "small English stopword list")
SMALL_STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their "
    "then there these they this to was will with".split())
TOKEN = re.compile(r"[a-z0-9]+")


def s_stem(word):
    """Harman's S-stemmer: -ies -> -y, -es -> -e, -s -> '' (with its exceptions)."""
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


_STEMS = {}


def words(text, stop=SMALL_STOPWORDS):
    """Lower-case alphanumeric tokens, stopwords dropped, S-stemmed."""
    out = []
    for w in TOKEN.findall(text.lower()):
        if w in stop:
            continue
        s = _STEMS.get(w)
        if s is None:
            s = _STEMS[w] = s_stem(w)
        out.append(s)
    return out


class Index:
    """An inverted index: term -> [(doc, tf)], document lengths, idf (BM25's)."""

    def __init__(self, docs, ids):
        self.ids = ids
        self.n = len(docs)
        self.lens = [len(d) for d in docs]
        self.avg = sum(self.lens) / max(self.n, 1)
        self.post = {}
        for i, d in enumerate(docs):
            for t, f in collections.Counter(d).items():
                self.post.setdefault(t, []).append((i, f))

    def df(self, term):
        return len(self.post.get(term, ()))

    def idf(self, term):
        df = self.df(term)
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def bm25(self, qweights, k1=0.9, b=0.4, lens=None, avg=None):
        """{doc: score} of sum_t w_t * idf_t * tf (k1+1) / (tf + k1 (1 - b + b len/avg))."""
        lens = lens or self.lens
        avg = avg or self.avg
        norm = [k1 * (1 - b + b * x / avg) for x in lens]
        scores = collections.defaultdict(float)
        for t, w in qweights.items():
            p = self.post.get(t)
            if not p or w == 0:
                continue
            wi = w * self.idf(t) * (k1 + 1)
            for i, f in p:
                scores[i] += wi * f / (f + norm[i])
        return scores

    def rank(self, scores, k=20):
        """The top k ids, score descending then id ascending (zeros padded by id)."""
        order = sorted(scores, key=lambda i: (-scores[i], self.ids[i]))[:k]
        if len(order) < k:
            if not hasattr(self, "by_id"):
                self.by_id = sorted(range(self.n), key=lambda i: self.ids[i])
            have = set(order)
            order += [i for i in self.by_id if i not in have][:k - len(order)]
        return [self.ids[i] for i in order]


def baseline(companies, demands, k=20):
    """The README's plain BM25: {demand id: top k company ids}."""
    index = Index([words(c["name"] + "\n" + c["description"]) for c in companies],
                  [c["id"] for c in companies])
    out = {}
    for d in demands:
        q = collections.Counter(words(d["title"] + "\n" + (d.get("description") or "")))
        out[d["id"]] = index.rank(index.bm25(q), k)
    return out


# -- word lists -----------------------------------------------------------------------------

# common/oim_analyze.c's English stop list (Snowball's, plus apostrophe fragments)
ENGLISH_STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being
below between both but by can could d did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself
ll m me more most my myself no nor not of off on once only or other ought our ours ourselves
out over own re s same she should so some such t than that the their theirs them themselves
then there these they this those through to too under until up ve very was we were what when
where which while who whom why will with would you your yours yourself yourselves""".split())

# Generic words: never evidence of fit, whatever the corpus says (a small corpus cannot learn
# them). Three groups, all compared after S-stemming: English function-like words the short
# stop list lacks; business/R&D boilerplate any startup or demand may use; the section
# headers and programme words of solicitations (DoD SBIR: TECHNOLOGY AREA, OBJECTIVE, PHASE
# I/II/III, KEYWORDS, REFERENCES ...).
GENERIC_EN_FUNCTION = """
also although among across along already always another around away back became become
becomes becoming besides beyond can cannot could currently due e eg either else enough etc
ever every first following found four further given however ie including i ii iii iv
less like likely made make makes making many may might much must need needed needs new
non often one onto per perhaps possible rather second several shall since still take
taken thereby therefore thus three toward towards two upon us use used uses using via
well whether within without would yet""".split()
GENERIC_EN_BUSINESS = """
ability able advanced advantage application applications approach approaches area areas
based benefit benefits best business capabilities capability capable challenge challenges
commercial commercialization commercialize companies company concept concepts cost costs
current customer customers demonstrate demonstrated demonstration design designed designs
develop developed developing development effective effort efforts enable enabled enables
enhance enhanced existing feasibility focus future goal goals high highly impact important
improve improved improvement improvements increase increased industry innovation innovative
key large level levels low market markets method methods need novel offer offers operation
operational opportunity opportunities perform performance platform platforms potential
problem problems process processes product products program programs project projects
proposed propose provide provided provides providing quality range reduce reduced reducing
research result results service services significant significantly small solution
solutions state support system systems task tasks team technical technique techniques
technologies technology test testing tool tools type types work""".split()
GENERIC_EN_SOLICITATION = """
acquisition agency anticipated army award awarded baa contract contractor contractors
darpa defense department description dhs doc dod doe dot dual effort evaluate foreign
government itar keyword keywords military nasa national nationals navy objective objectives
offeror offerors phase proposal proposals prototype references regulation regulations
requirement requirements sbir section solicitation sttr topic transition usaf warfighter""".split()
# Korean: generic business words (issue 15's examples and their kind); they are whole-word
# terms after particle stripping, so a C matcher compares the analyser's WORD/STEM terms.
GENERIC_KO = """
기반 솔루션 플랫폼 서비스 기업 스타트업 개발 제공 기술 시스템 사업 활용 분야 방안 방법
구축 지원 적용 연구 제품 고객 시장 관리 운영 혁신 효율 효율적 향상 필요 가능 다양한 통합
최적화 협력 검토 확보 추진 수행 목표 과제 결과 계획 내용 관련 경우 이상 이하 가지 모든
당사 회사 국내 해외 글로벌 전문 우수 신규 기존 새로운 분석 제작 구현 설계""".split()

GENERIC_EN = frozenset(s_stem(w) for w in GENERIC_EN_FUNCTION + GENERIC_EN_BUSINESS
                       + GENERIC_EN_SOLICITATION)


def is_generic(term):
    """True for a (display or stemmed) term that is never evidence: a number, a single
    character, a stop word, a generic English word, or a generic Korean word."""
    t = term.lower()
    if not t or len(t) == 1 or t.isdigit() or not any(ch.isalpha() for ch in t):
        return True
    return (t in ENGLISH_STOPWORDS or t in SMALL_STOPWORDS or s_stem(t) in GENERIC_EN
            or t in GENERIC_KO)
