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

    def ql(self, qweights, mu=1500.0, lens=None, ctf=None, total=None):
        """{doc: score} of query likelihood with Dirichlet smoothing, rank-equivalent form:
        sum_t w_t log(1 + tf / (mu p(t|C))) + (sum_t w_t) log(mu / (len + mu)), over every
        document (the length part applies to all)."""
        lens = lens or self.lens
        if not hasattr(self, "ctf"):
            self.ctf = {t: sum(f for _, f in p) for t, p in self.post.items()}
            self.total = sum(self.lens)
        ctf = ctf or self.ctf
        total = total or self.total
        scores = collections.defaultdict(float)
        for t, w in qweights.items():
            p = self.post.get(t)
            if not p or w == 0:
                continue
            pc = ctf[t] / total
            for i, f in p:
                scores[i] += w * math.log(1 + f / (mu * pc))
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
requirement requirements sbir section solicitation sttr topic transition usaf warfighter
address com htm html http https org pdf url www""".split()
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


# -- the models studied ---------------------------------------------------------------------

# DoD SBIR section headers (upper case, followed by a colon; they may be glued to the text
# before them: "Air Platform, ElectronicsThe technology ... OBJECTIVE: Develop")
SECTION = re.compile(r"(TECHNOLOGY AREA\(?S?\)?|OBJECTIVE|DESCRIPTION|PHASE III DUAL[- ]USE "
                     r"APPLICATIONS?|PHASE III|PHASE II|PHASE I|KEYWORDS|REFERENCES|"
                     r"PROPOSALS ACCEPTED|ACQUISITION PROGRAM|COMMERCIALIZATION|"
                     r"DUAL USE COMMERCIALIZATION)\s*:")
ITAR = re.compile(r"The technology within this topic is restricted under the International "
                  r"Traffic in Arms Regulation.*?(?:solicitation\.|$)", re.S)


def sections(description):
    """[(section name, text)] of a solicitation text: "PREAMBLE" before the first header,
    then each header's text (names normalised: TECHNOLOGY AREA, PHASE III, ...); the ITAR
    paragraph is left out."""
    text = ITAR.sub(" ", description or "")
    out, name, at = [], "PREAMBLE", 0
    for m in SECTION.finditer(text):
        out.append((name, text[at:m.start()]))
        name = m.group(1)
        name = ("TECHNOLOGY AREA" if name.startswith("TECHNOLOGY") else
                "PHASE III" if name.startswith("PHASE III") or "COMMERCIALIZATION" in name
                else name)
        at = m.end()
    out.append((name, text[at:]))
    return [(n, t) for n, t in out if t.strip()]


GENERIC_ACTIVE = [GENERIC_EN]     # which generic list is_evidence uses (studies swap it)


def is_evidence(term):
    """False for what never counts: numbers (any digit), single characters, stop words,
    generic words (after stemming)."""
    return (len(term) > 1 and not any(ch.isdigit() for ch in term)
            and term not in ENGLISH_STOPWORDS and term not in GENERIC_ACTIVE[0])


def tokens_with_breaks(text, stop=SMALL_STOPWORDS):
    """words(), with None where a stop word or a sentence/line break was (pairs never
    span one)."""
    out = []
    for piece in re.split(r"[.;:!?\n]+", text.lower()):
        for w in TOKEN.findall(piece):
            out.append(None if w in stop or w in ENGLISH_STOPWORDS else
                       _STEMS.get(w) or _STEMS.setdefault(w, s_stem(w)))
        out.append(None)
    return out


def pairs(toks):
    """The adjacent pairs "a b" of a tokens_with_breaks() list, both members evidence."""
    return [a + " " + b for a, b in zip(toks, toks[1:])
            if a and b and is_evidence(a) and is_evidence(b)]


class Corpus:
    """The companies, indexed for the studied models: whole profiles (words, and words +
    adjacent pairs) and single awards (a profile's lines)."""

    def __init__(self, companies, title_boost=1):
        self.ids = [c["id"] for c in companies]
        toks = [tokens_with_breaks(c["name"] + "\n" + c["description"]) for c in companies]
        if title_boost > 1:     # each award's title ("title. abstract") repeated: BM25F-like
            toks = [ts + [t for line in c["description"].split("\n")
                          for t in tokens_with_breaks(line.split(". ", 1)[0])] * (title_boost - 1)
                    for ts, c in zip(toks, companies)]
        self.words = Index([[t for t in ts if t] for ts in toks], self.ids)
        self.pairs = Index([pairs(ts) for ts in toks], self.ids)
        self.award_of = []
        award_toks = []
        for i, c in enumerate(companies):
            for line in c["description"].split("\n"):
                ts = tokens_with_breaks(line)
                award_toks.append([t for t in ts if t] + pairs(ts))
                self.award_of.append(i)
        self.awards = Index(award_toks, list(range(len(award_toks))))
        self.awards.idf = lambda t: self.words.idf(t) if " " not in t else self.pairs.idf(t)


def query_terms(demand, cfg):
    """{term: weight} of a demand under cfg: section weights, evidence filter, tf saturation,
    pairs, corpus-learnt cut of common terms, top-N selection (see MATCH_QUALITY.md)."""
    fields = [("TITLE", demand["title"])] + sections(demand.get("description") or "")
    sw = cfg.get("section_weights", {})
    counts = collections.Counter()
    pair_counts = collections.Counter()
    for name, text in fields:
        w = sw.get(name, 1.0)
        if w == 0:
            continue
        toks = tokens_with_breaks(text)
        for t in toks:
            if t and (not cfg.get("clean") or is_evidence(t)):
                counts[t] += w
        if cfg.get("pair_weight") and name in cfg.get("pair_sections", (name,)):
            for p in pairs(toks):
                pair_counts[p] += w
    sat = cfg.get("qtf", "raw")
    f = {"raw": lambda x: x, "sqrt": math.sqrt, "log": lambda x: 1 + math.log(x) if x >= 1 else x,
         "one": lambda x: 1.0}[sat]
    q = {t: f(c) for t, c in counts.items()}
    if cfg.get("pair_weight"):
        for p, c in pair_counts.items():
            if cfg.get("pair_min", 1) <= c or p in cfg.get("_title_pairs", ()):
                q[p] = cfg["pair_weight"] * f(c)
    return q


def select(q, corpus, cfg):
    """Drops terms carried by more than cfg max_df of the startups (when the corpus has at
    least cfg min_n of them), and keeps the cfg top_n by weight x idf."""
    n = corpus.words.n
    if cfg.get("max_df") and n >= cfg.get("min_n", 0):
        q = {t: w for t, w in q.items()
             if (corpus.pairs if " " in t else corpus.words).df(t) <= cfg["max_df"] * n}
    if cfg.get("top_n"):
        def gain(t):
            return q[t] * (corpus.pairs if " " in t else corpus.words).idf(t)
        q = dict(sorted(q.items(), key=lambda kv: -gain(kv[0]))[:cfg["top_n"]])
    return q


def score(corpus, q, cfg):
    """{company index: score}: BM25 of the word terms over the whole profile plus that of
    the pair terms (own idf/length statistics), optionally mixed with the best single award."""
    k1, b = cfg.get("k1", 0.9), cfg.get("b", 0.4)
    if cfg.get("qidf"):
        q = {t: w * ((corpus.pairs if " " in t else corpus.words).idf(t)) ** cfg["qidf"]
             for t, w in q.items()}
    qw = {t: w for t, w in q.items() if " " not in t}
    qp = {t: w for t, w in q.items() if " " in t}
    if cfg.get("model") == "ql":
        return score_ql(corpus, qw, qp, cfg)
    s = corpus.words.bm25(qw, k1, b)
    if qp and cfg.get("pair_idf") == "min":
        # a pair's weight: the rarer of its words' idf (not the pair's own, which is huge
        # for any pair few profiles happen to contain)
        saved = corpus.pairs.idf
        corpus.pairs.idf = lambda t: min(corpus.words.idf(w) for w in t.split(" "))
        try:
            for i, v in corpus.pairs.bm25(qp, k1, b, lens=corpus.words.lens,
                                          avg=corpus.words.avg).items():
                s[i] += v
        finally:
            corpus.pairs.idf = saved
    elif qp:
        for i, v in corpus.pairs.bm25(qp, k1, b, lens=corpus.words.lens,
                                      avg=corpus.words.avg).items():
            s[i] += v
    lam = cfg.get("award_max", 0)
    if lam:
        best = collections.defaultdict(float)
        for a, v in corpus.awards.bm25(q, k1, b).items():
            i = corpus.award_of[a]
            best[i] = max(best[i], v)
        s = {i: (1 - lam) * s.get(i, 0) + lam * best.get(i, 0) for i in set(s) | set(best)}
    return s


def score_ql(corpus, qw, qp, cfg):
    """Query likelihood (Dirichlet mu) of the words, plus pair_weight x that of the pairs
    (a sequential-dependence model: pairs scored as terms of their own, the same document
    length), the length part added for every company."""
    mu = cfg.get("mu", 1500.0)
    s = corpus.words.ql(qw, mu)
    if qp:
        if not hasattr(corpus.pairs, "ctf"):
            corpus.pairs.ql({}, mu)
        for i, v in corpus.pairs.ql(qp, mu, lens=corpus.words.lens).items():
            s[i] += v
    total_w = sum(qw.values()) + sum(qp.values())
    lens = corpus.words.lens
    return {i: s.get(i, 0.0) + total_w * math.log(mu / (lens[i] + mu)) for i in range(len(lens))
            if i in s}


def rm3(corpus, q, first, cfg):
    """Pseudo-relevance feedback (RM3-like): the evidence word terms of the first ranking's
    top fb_docs profiles, weighted by score-weighted tf/len, the top fb_terms of them added
    to q with total weight fb_weight of q's."""
    top = sorted(first, key=lambda i: -first[i])[:cfg["fb_docs"]]
    if not top:
        return q
    tmax = first[top[0]]
    exp = collections.defaultdict(float)
    for i in top:
        weight = math.exp(first[i] - tmax) if cfg.get("fb_softmax") else first[i] / tmax
        doc = corpus.doc_terms[i]
        ln = sum(doc.values())
        for t, f in doc.items():
            if is_evidence(t):
                exp[t] += weight * f / ln * corpus.words.idf(t)
    best = sorted(exp.items(), key=lambda kv: -kv[1])[:cfg["fb_terms"]]
    total_q = sum(q.values())
    total_e = sum(v for _, v in best) or 1
    out = dict(q)
    for t, v in best:
        out[t] = out.get(t, 0) + cfg["fb_weight"] * total_q * v / total_e
    return out


def run_model(corpus, demands, cfg, k=20):
    """{demand id: top k company ids} of one configuration (cfg {} = the README BM25)."""
    if cfg.get("fb_docs") and not hasattr(corpus, "doc_terms"):
        corpus.doc_terms = [collections.Counter() for _ in corpus.ids]
        for t, post in corpus.words.post.items():
            for i, f in post:
                corpus.doc_terms[i][t] = f
    out = {}
    for d in demands:
        q = select(query_terms(d, cfg), corpus, cfg)
        s = score(corpus, q, cfg)
        if cfg.get("fb_docs"):
            s = score(corpus, select(rm3(corpus, q, s, cfg), corpus, cfg), cfg)
        out[d["id"]] = corpus.words.rank(s, k)
    return out


# -- the study ------------------------------------------------------------------------------

SECTIONS_NO_REFS = {"REFERENCES": 0, "TECHNOLOGY AREA": 0}
RECOMMENDED = {"clean": 1, "qtf": "log", "top_n": 100, "pair_weight": 0.3, "pair_idf": "min"}
VARIANTS = [
    ("B0  BM25, README baseline (same code path, our tokens)", {}),
    ("V1  + evidence filter (numbers, 1-char, stop, generic)", {"clean": 1}),
    ("V2  V1 + log query tf", {"clean": 1, "qtf": "log"}),
    ("V3  V1 + sqrt query tf", {"clean": 1, "qtf": "sqrt"}),
    ("V4  V1 + top 100 terms by qtf x idf", {"clean": 1, "top_n": 100}),
    ("V5  V1 + log qtf + top 100", {"clean": 1, "qtf": "log", "top_n": 100}),
    ("V6  V1 + pairs (own idf) x0.3", {"clean": 1, "pair_weight": 0.3}),
    ("V7  V1 + pairs (own idf) x1.0", {"clean": 1, "pair_weight": 1.0}),
    ("V8  V1 + pairs (min word idf) x0.5", {"clean": 1, "pair_weight": 0.5, "pair_idf": "min"}),
    ("V9  V5 + pairs (min word idf) x0.3  [recommended]", RECOMMENDED),
    ("V10 V1 + title x3, KEYWORDS x3, PHASE III x0.3, refs 0",
     {"clean": 1, "section_weights": {"TITLE": 3, "KEYWORDS": 3, "PHASE III": 0.3,
                                      "REFERENCES": 0, "TECHNOLOGY AREA": 0}}),
    ("V11 V1 + references, technology area dropped", {"clean": 1,
                                                      "section_weights": SECTIONS_NO_REFS}),
    ("V12 V1 + b 0.75 (stronger length normalisation)", {"clean": 1, "b": 0.75}),
    ("V13 V5 + b 0 (no length normalisation)", {"clean": 1, "qtf": "log", "top_n": 100, "b": 0}),
    ("V14 V1 + best award 50% / profile 50%", {"clean": 1, "award_max": 0.5}),
    ("V15 V5 + best award 30%", {"clean": 1, "qtf": "log", "top_n": 100, "award_max": 0.3}),
    ("V16 V1 + drop terms in > 10% of startups", {"clean": 1, "max_df": 0.10}),
    ("V17 V1 + drop terms in > 3% of startups", {"clean": 1, "max_df": 0.03}),
    ("V18 V1 + RM3 (10 docs, 20 terms, 0.5)", {"clean": 1, "fb_docs": 10, "fb_terms": 20,
                                              "fb_weight": 0.5}),
    ("V19 V1 query likelihood, Dirichlet mu 1500", {"clean": 1, "model": "ql"}),
    ("V20 V19 + pairs x0.1 (SDM-like)", {"clean": 1, "model": "ql", "pair_weight": 0.1}),
]
GRID = [dict(RECOMMENDED, qtf=qtf, top_n=n, pair_weight=pw)
        for qtf in ("raw", "log") for n in (50, 100, 200, 0) for pw in (0, 0.3, 1.0)]


def row(label, scores, base):
    """One printed line: means ± se, paired nDCG/recall w/t/l and mean difference vs base."""
    s = summary(scores)
    wn, tn, ln = paired(scores, base, 0)
    wr, tr, lr = paired(scores, base, 1)
    dn, sen = paired_se(scores, base, 0)
    return (f"{label:56s} " + " ".join(f"{m:.4f}±{se:.3f}" for m, se in s)
            + f"  nDCG {wn}/{tn}/{ln} {dn:+.4f}±{sen:.4f}  R@20 {wr}/{tr}/{lr}")


def loo(per_config, demand_ids):
    """Leave-one-out over a grid: for each demand, the config with the best mean nDCG@10 on
    the others is chosen; returns {demand: its (ndcg, recall, mrr) under that choice}."""
    out = {}
    for held in demand_ids:
        best = max(range(len(per_config)), key=lambda c: (
            sum(per_config[c][d][0] for d in demand_ids if d != held), -c))
        out[held] = per_config[best][held]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--variants", help="comma-separated variant tags (B0,V1,...); default all")
    ap.add_argument("--cv", action="store_true", help="also the leave-one-out / 2-fold study "
                    "of the recommended model's fitted parameters (query tf, top N, pairs)")
    ap.add_argument("--prior", action="store_true", help="also the study of a prior-relationship "
                    "signal: V9 x (1 + a x prior), prior 1 when the firm holds another award "
                    "from the demand's agency:component, h when only from its agency")
    args = ap.parse_args()
    companies, demands, qrels = load(args.data)
    t0 = time.monotonic()
    corpus = Corpus(companies)
    print(f"{len(companies)} companies indexed in {time.monotonic() - t0:.0f} s; "
          f"{len(demands)} demands, {sum(map(len, qrels.values()))} judgements")
    readme = baseline(companies, demands)
    subsets = (("all 83", None), ("64 with description", with_description))
    base = {name: evaluate(readme, demands, qrels, keep) for name, keep in subsets}
    for name, _ in subsets:
        print(row(f"README BM25 ({name})", base[name], base[name]))
    chosen = [v for v in VARIANTS if not args.variants
              or v[0].split()[0] in args.variants.split(",")]
    for name, keep in subsets:
        print(f"\n{name}: nDCG@10 Recall@20 MRR@20 (± se); paired vs README BM25 "
              f"(wins/ties/losses, mean difference ± se)")
        for label, cfg in chosen:
            ranks = run_model(corpus, demands, cfg)
            print(row(label, evaluate(ranks, demands, qrels, keep), base[name]), flush=True)
    if args.cv:
        cross_validate(corpus, demands, qrels, base)
    if args.prior:
        prior_study(corpus, companies, demands, qrels, base)


def cross_validate(corpus, demands, qrels, base):
    """Prints the grid's in-sample best, leave-one-out and 2-fold (odd/even demand) figures."""
    per = [evaluate(run_model(corpus, demands, cfg), demands, qrels) for cfg in GRID]
    ids = [d["id"] for d in demands]
    best = max(range(len(GRID)), key=lambda c: (summary(per[c])[0][0], -c))
    print(f"\ngrid of {len(GRID)} (query tf raw/log x top N 50/100/200/all x pairs 0/0.3/1.0):")
    print(row(f"in-sample best {GRID[best]['qtf']}/{GRID[best]['top_n']}/"
              f"{GRID[best]['pair_weight']}", per[best], base["all 83"]))
    print(row("leave-one-out (choice made without the demand)", loo(per, ids),
              base["all 83"]))
    folds = [ids[0::2], ids[1::2]]
    two = {}
    for k in (0, 1):
        train, test = folds[k], folds[1 - k]
        c = max(range(len(GRID)), key=lambda c: (sum(per[c][d][0] for d in train), -c))
        two.update({d: per[c][d] for d in test})
        print(f"  2-fold: fold {k} trained -> {GRID[c]['qtf']}/{GRID[c]['top_n']}/"
              f"{GRID[c]['pair_weight']}")
    print(row("2-fold (odd/even demands)", two, base["all 83"]))


def owner(demand):
    """The demand's owner as the companies' "agencies" name it: agency[:component]."""
    ag = demand.get("agencies") or []
    return demand["agency"] + (":" + ag[1] if len(ag) > 1 else "")


def prior_study(corpus, companies, demands, qrels, base):
    """What a prior relationship with the demand's owner would add to the recommended text
    model (the platform's analogue: a startup's past work with the company or its group)."""
    scores = {d["id"]: score(corpus, select(query_terms(d, RECOMMENDED), corpus, RECOMMENDED),
                             RECOMMENDED) for d in demands}
    print("\nprior relationship (V9 x (1 + a x prior)); all 83 demands:")
    for a in (0, 0.5, 1, 1.5, 2):
        for h in (0, 0.25, 0.5):
            out = {}
            for d in demands:
                own, parent = owner(d), d["agency"]
                prior = [1.0 if own in c["agencies"] else
                         h if any(x.split(":")[0] == parent for x in c["agencies"]) else 0.0
                         for c in companies]
                s = {i: v * (1 + a * prior[i]) for i, v in scores[d["id"]].items()}
                out[d["id"]] = corpus.words.rank(s, 20)
            print(row(f"a {a}, same agency only {h}", evaluate(out, demands, qrels),
                      base["all 83"]))


if __name__ == "__main__":
    main()
