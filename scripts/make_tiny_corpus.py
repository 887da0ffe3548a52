"""Generate the tiny English->Chinese demo corpus under data/tiny/.

The corpus is synthetic but built so that cross-lingual transfer genuinely works on it:

* a hand-written bilingual lexicon of topic concepts (4 labels) and general concepts;
* one weighted concept co-occurrence graph (dense inside a topic, a few cross-topic edges,
  random sparse "signature" edges, Zipf-like popularity);
* sentences are random walks over that graph, started at a concept of the label's topic and
  interleaved with general concepts that each topic concept prefers.

Both languages are sampled from the SAME graph (with mild per-language noise on its weights)
using independent random streams, so word2vec spaces trained separately per language come out
roughly isomorphic. English is realised as
space-separated words with a capital and a final period; Chinese as words concatenated without
spaces and a final "。", and the script checks that jieba segments it back into the intended
words.

Usage::

    python scripts/make_tiny_corpus.py [--out data/tiny] [--seed 13] [--check]

The output is byte-identical for a given seed and numpy version (no hash- or set-order
dependence). ``--check``
additionally trains word2vec per language and reports bilingual lexicon induction P@1 and
zero-shot accuracy through an orthogonal Procrustes map.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# --------------------------------------------------------------------------------------------
# Lexicon. "english:中文" items; "a|b" lists Chinese synonyms (picked at random per occurrence).
# Every Chinese word is a common word that jieba's default dictionary keeps intact.
# --------------------------------------------------------------------------------------------

LABELS = ("sports", "business", "science", "arts")

TOPIC_LEXICON = {
    "sports": """
        football:足球 basketball:篮球 tennis:网球 match:比赛 team:球队 player:球员|选手
        coach:教练 goal:进球 stadium:球场 champion:冠军 season:赛季 league:联赛 score:比分
        fans:球迷 referee:裁判 training:训练 athlete:运动员 victory:胜利 defeat:失败
        olympics:奥运 swimming:游泳 running:跑步 medal:奖牌 record:纪录 captain:队长
        sport:体育 exercise:锻炼 jersey:球衣
    """,
    "business": """
        bank:银行 market:市场 company:公司|企业 profit:利润 price:价格|价钱 stock:股票
        investor:投资者 investment:投资 economy:经济 trade:贸易 money:资金|金钱 customer:客户
        sales:销售 product:产品 factory:工厂 manager:经理 contract:合同 loan:贷款 tax:税收
        income:收入 cost:成本 budget:预算 export:出口 import:进口 industry:行业 finance:金融
        debt:债务 growth:增长 brand:品牌
    """,
    "science": """
        computer:电脑|计算机 research:研究|科研 scientist:科学家 experiment:实验 data:数据
        physics:物理 chemistry:化学 biology:生物 energy:能源 theory:理论 technology:技术
        software:软件 network:网络 robot:机器人 space:太空 planet:行星 atom:原子 cell:细胞
        gene:基因 climate:气候 discovery:发现 telescope:望远镜 medicine:医学 virus:病毒
        satellite:卫星 chip:芯片 algorithm:算法 formula:公式
    """,
    "arts": """
        music:音乐 film:电影|影片 painting:绘画 artist:艺术家 museum:博物馆 novel:小说
        poem:诗歌 theater:剧院 song:歌曲 singer:歌手 actor:演员 director:导演 dance:舞蹈
        piano:钢琴 guitar:吉他 exhibition:展览 gallery:画廊 author:作者 book:书籍|图书
        stage:舞台 audience:观众 photography:摄影 sculpture:雕塑 opera:歌剧 drama:戏剧
        culture:文化 design:设计 poet:诗人
    """,
}

GENERAL_LEXICON = """
    today:今天 yesterday:昨天 tomorrow:明天 we:我们 they:他们 people:人们 friends:朋友
    city:城市 country:国家 world:世界 like:喜欢 saw:看到 think:认为 hope:希望 discuss:讨论
    start:开始 important:重要 famous:著名 often:经常 again:再次 many:许多 very:非常
    local:当地 young:年轻 students:学生 family:家庭
"""


@dataclass(frozen=True)
class Concept:
    en: str
    zh: tuple[str, ...]
    topic: int  # index into LABELS, or -1 for a general concept


def parse_lexicon() -> list[Concept]:
    """Topic concepts first (in LABELS order), then general concepts; order is fixed."""
    concepts: list[Concept] = []
    for topic, label in enumerate(LABELS):
        for item in TOPIC_LEXICON[label].split():
            en, zh = item.split(":")
            concepts.append(Concept(en, tuple(zh.split("|")), topic))
    for item in GENERAL_LEXICON.split():
        en, zh = item.split(":")
        concepts.append(Concept(en, tuple(zh.split("|")), -1))
    ens = [c.en for c in concepts]
    zhs = [w for c in concepts for w in c.zh]
    if len(set(ens)) != len(ens) or len(set(zhs)) != len(zhs):
        raise SystemExit("lexicon has a duplicated word")
    return concepts


# --------------------------------------------------------------------------------------------
# Generation parameters (tuned so that the --check numbers are comfortably above target).
# --------------------------------------------------------------------------------------------

P_EDGE_IN_TOPIC = 0.30  # probability of an edge between two concepts of the same topic
P_EDGE_CROSS = 0.01  # probability of an edge between concepts of different topics
SIGNATURE_EDGES = 3  # strong random edges per topic concept (distinctive neighbourhood)
SIGNATURE_WEIGHT = (3.0, 5.0)
SIGNATURE_IN_TOPIC = 0.95  # share of signature edges that stay inside the topic
ZIPF_EXPONENT = 0.8
GENERALS_PER_CONCEPT = 3  # general concepts that each topic concept prefers
P_GENERAL = 0.3  # per topic step: chance of a general concept (half before, half after)
WALK_STEPS = (4, 7)  # topic concepts per sentence (inclusive); generals come on top
MIN_TOKENS = 6  # sentence length in words, generals included (resampled outside the range);
MAX_TOKENS = 10  # kept short so that the whole corpus stays below MAX_TOTAL_BYTES
LABEL_PRIOR = (0.28, 0.26, 0.24, 0.22)  # balanced-ish, deliberately not uniform
LANGUAGE_NOISE = 0.5  # sigma of per-language log-normal noise on the shared edge weights

N_EN_TRAIN = 2000
N_ZH_TRAIN = 800
N_ZH_TEST = 600
N_UNLABELLED = 16000
SEED_DICT_SHARE = 0.6
MAX_TOTAL_BYTES = 2_000_000
MIN_JIEBA_RECOVERY = 0.95
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data" / "tiny"

# Independent random streams: (seed, STREAM) seeds numpy's generator, so adding a stream never
# changes the others.
STREAM = {
    "graph": 0,
    "dict": 1,
    "en_train": 2,
    "zh_train": 3,
    "zh_test": 4,
    "en_unlabelled": 5,
    "zh_unlabelled": 6,
    "graph_en": 7,
    "graph_zh": 8,
}


def rng_for(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, STREAM[name]])


@dataclass
class Graph:
    """Concept graph; ``weight`` and ``general`` are unnormalised, see ``for_language``."""

    topic_of: np.ndarray  # (T,) label index of each topic concept
    weight: np.ndarray  # (T, T) symmetric edge weights between topic concepts
    popularity: np.ndarray  # (T,) Zipf-like concept popularity
    general: np.ndarray  # (T, G) preference of each topic concept for general concepts


@dataclass
class Walker:
    """One language's view of the graph: normalised distributions for sampling."""

    trans: np.ndarray  # (T, T) row-stochastic transitions between topic concepts
    start: list[np.ndarray]  # per label: start distribution over topic concepts
    general: np.ndarray  # (T, G) row-stochastic choice of an interleaved general concept


def build_graph(concepts: list[Concept], rng: np.random.Generator) -> Graph:
    topic_ids = [i for i, c in enumerate(concepts) if c.topic >= 0]
    n_topic = len(topic_ids)
    n_general = len(concepts) - n_topic
    topic_of = np.array([concepts[i].topic for i in topic_ids])

    # Random edges: dense inside a topic, sparse across topics.
    same = topic_of[:, None] == topic_of[None, :]
    prob = np.where(same, P_EDGE_IN_TOPIC, P_EDGE_CROSS)
    upper = np.triu(rng.random((n_topic, n_topic)) < prob, k=1)
    weight = np.triu(rng.uniform(0.5, 1.5, (n_topic, n_topic)), k=1) * upper
    # Strong "signature" edges give every concept a neighbourhood of its own.
    for i in range(n_topic):
        mates = np.flatnonzero(same[i] & (np.arange(n_topic) != i))
        others = np.flatnonzero(~same[i])
        for _ in range(SIGNATURE_EDGES):
            pool = mates if rng.random() < SIGNATURE_IN_TOPIC else others
            j = int(rng.choice(pool))
            a, b = min(i, j), max(i, j)
            weight[a, b] += rng.uniform(*SIGNATURE_WEIGHT)
    weight = weight + weight.T

    # Zipf-like popularity from a random rank order of the topic concepts.
    popularity = 1.0 / (rng.permutation(n_topic) + 1.0) ** ZIPF_EXPONENT

    # Each topic concept favours a few general concepts; general popularity is Zipf-like too.
    gen_pop = 1.0 / (rng.permutation(n_general) + 1.0) ** 0.5
    general = np.zeros((n_topic, n_general))
    for i in range(n_topic):
        picks = rng.choice(
            n_general, size=GENERALS_PER_CONCEPT, replace=False, p=gen_pop / gen_pop.sum()
        )
        general[i, picks] = rng.uniform(0.5, 1.5, GENERALS_PER_CONCEPT)
    return Graph(topic_of, weight, popularity, general)


def for_language(graph: Graph, rng: np.random.Generator) -> Walker:
    """Perturb the shared weights with per-language noise (languages are alike, not equal)."""

    def noisy(mat: np.ndarray) -> np.ndarray:
        return mat * rng.lognormal(0.0, LANGUAGE_NOISE, mat.shape)

    trans = noisy(graph.weight) * graph.popularity[None, :]
    trans /= trans.sum(axis=1, keepdims=True)
    start = []
    for t in range(len(LABELS)):
        p = np.where(graph.topic_of == t, graph.popularity, 0.0)
        start.append(p / p.sum())
    general = noisy(graph.general)
    general /= general.sum(axis=1, keepdims=True)
    return Walker(trans, start, general)


def sample_sentence(
    walker: Walker, label: int, n_topic: int, rng: np.random.Generator
) -> list[int]:
    """A random walk as concept indices (general concepts are offset by ``n_topic``)."""
    n_general = walker.general.shape[1]
    while True:
        steps = int(rng.integers(WALK_STEPS[0], WALK_STEPS[1] + 1))
        node = int(rng.choice(n_topic, p=walker.start[label]))
        out: list[int] = []
        visited = np.zeros(n_topic, dtype=bool)
        for step in range(steps):
            if step:
                # Prefer concepts not yet in the sentence, so walks do not bounce back and forth.
                p = np.where(visited, 0.0, walker.trans[node])
                p = p / p.sum() if p.sum() > 0 else walker.trans[node]
                node = int(rng.choice(n_topic, p=p))
            visited[node] = True
            if rng.random() < P_GENERAL / 2:
                out.append(n_topic + int(rng.choice(n_general, p=walker.general[node])))
            out.append(node)
            if rng.random() < P_GENERAL / 2:
                out.append(n_topic + int(rng.choice(n_general, p=walker.general[node])))
        if MIN_TOKENS <= len(out) <= MAX_TOKENS:
            return out


def realise_en(concepts: list[Concept], seq: list[int]) -> str:
    words = [concepts[i].en for i in seq]
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


def realise_zh(concepts: list[Concept], seq: list[int], rng: np.random.Generator) -> list[str]:
    """The intended Chinese words (synonym chosen per occurrence), without the final 。."""
    words = []
    for i in seq:
        zh = concepts[i].zh
        words.append(zh[int(rng.integers(len(zh)))] if len(zh) > 1 else zh[0])
    return words


def sample_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(len(LABELS), size=n, p=np.array(LABEL_PRIOR))


def generate(concepts: list[Concept], walker: Walker, seed: int, name: str, n: int, labelled: bool):
    """Returns (lines, labels, zh_words): lines realised; zh_words only for Chinese files."""
    rng = rng_for(seed, name)
    n_topic = walker.trans.shape[0]
    labels = sample_labels(n, rng) if labelled else rng.choice(len(LABELS), size=n)
    lines, zh_words = [], []
    for label in labels:
        seq = sample_sentence(walker, int(label), n_topic, rng)
        if name.startswith("en"):
            lines.append(realise_en(concepts, seq))
        else:
            words = realise_zh(concepts, seq, rng)
            zh_words.append(words)
            lines.append("".join(words) + "。")
    return lines, [LABELS[int(t)] for t in labels], zh_words


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def csv_text(lines: list[str], labels: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(zip(lines, labels, strict=True))
    return buf.getvalue()


def split_dictionary(concepts: list[Concept], seed: int) -> tuple[str, str]:
    rng = rng_for(seed, "dict")
    order = rng.permutation(len(concepts))
    n_seed = round(SEED_DICT_SHARE * len(concepts))
    seed_ids = sorted(order[:n_seed].tolist())
    test_ids = sorted(order[n_seed:].tolist())

    def fmt(ids: list[int]) -> str:
        return "".join(f"{concepts[i].en} {zh}\n" for i in ids for zh in concepts[i].zh)

    return fmt(seed_ids), fmt(test_ids)


# --------------------------------------------------------------------------------------------
# jieba round trip
# --------------------------------------------------------------------------------------------


def load_jieba():
    import jieba

    jieba.setLogLevel(60)
    return jieba


def jieba_recovery(jieba, sentences: list[list[str]]) -> float:
    """Share of intended words whose exact character span is one jieba token."""
    hit = total = 0
    for words in sentences:
        intended, pos = set(), 0
        for w in words:
            intended.add((pos, pos + len(w)))
            pos += len(w)
        got, pos = set(), 0
        for tok in jieba.lcut("".join(words) + "。"):
            got.add((pos, pos + len(tok)))
            pos += len(tok)
        hit += len(intended & got)
        total += len(intended)
    return hit / total


# --------------------------------------------------------------------------------------------
# --check: word2vec per language, Procrustes, BLI P@1, zero-shot accuracy
# --------------------------------------------------------------------------------------------

EN_TOKEN = re.compile(r"[a-z]+")
ZH_WORD = re.compile(r"\w", re.UNICODE)


def en_tokens(line: str) -> list[str]:
    return EN_TOKEN.findall(line.lower())


def zh_tokens(jieba, line: str) -> list[str]:
    return [t for t in jieba.lcut(line) if ZH_WORD.search(t)]


def normalise(mat: np.ndarray) -> np.ndarray:
    """Unit length, mean centring, unit length (rows)."""
    mat = mat / np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
    mat = mat - mat.mean(axis=0, keepdims=True)
    return mat / np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)


def read_pairs(text: str) -> list[tuple[str, str]]:
    return [tuple(line.split()) for line in text.splitlines() if line.strip()]


def run_check(out: Path, jieba) -> dict[str, float]:
    from gensim.models import Word2Vec

    def train(sentences: list[list[str]]):
        model = Word2Vec(
            sentences, vector_size=50, window=5, min_count=2, sg=1, epochs=5, workers=1, seed=0
        )
        words = list(model.wv.index_to_key)
        return words, {w: i for i, w in enumerate(words)}, normalise(model.wv.vectors)

    en_lines = (out / "en_unlabelled.txt").read_text(encoding="utf-8").splitlines()
    zh_lines = (out / "zh_unlabelled.txt").read_text(encoding="utf-8").splitlines()
    en_words, en_idx, en_vec = train([en_tokens(s) for s in en_lines])
    zh_words, zh_idx, zh_vec = train([zh_tokens(jieba, s) for s in zh_lines])

    seed = [
        (s, t)
        for s, t in read_pairs((out / "dict_seed.txt").read_text(encoding="utf-8"))
        if s in en_idx and t in zh_idx
    ]
    src = en_vec[[en_idx[s] for s, _ in seed]]
    tgt = zh_vec[[zh_idx[t] for _, t in seed]]
    u, _, vt = np.linalg.svd(src.T @ tgt)
    w = u @ vt  # en_vec @ w lives in the Chinese space; zh_vec @ w.T in the English space

    gold: dict[str, set[str]] = {}
    for s, t in read_pairs((out / "dict_test.txt").read_text(encoding="utf-8")):
        gold.setdefault(s, set()).add(t)
    queries = sorted(s for s in gold if s in en_idx)
    mapped = en_vec[[en_idx[s] for s in queries]] @ w
    nearest = np.argmax(mapped @ zh_vec.T, axis=1)
    p_at_1 = float(np.mean([zh_words[j] in gold[s] for s, j in zip(queries, nearest, strict=True)]))

    def doc_vectors(texts: list[list[str]], idx: dict[str, int], vec: np.ndarray) -> np.ndarray:
        rows = []
        for toks in texts:
            ids = [idx[t] for t in toks if t in idx]
            v = vec[ids].mean(axis=0) if ids else np.zeros(vec.shape[1])
            rows.append(v / max(np.linalg.norm(v), 1e-12))
        return np.array(rows)

    def read_csv(path: Path) -> tuple[list[str], list[str]]:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        return [r["text"] for r in rows], [r["label"] for r in rows]

    en_text, en_lab = read_csv(out / "en_train.csv")
    zh_text, zh_lab = read_csv(out / "zh_test.csv")
    x_en = doc_vectors([en_tokens(s) for s in en_text], en_idx, en_vec)
    x_zh = doc_vectors([zh_tokens(jieba, s) for s in zh_text], zh_idx, zh_vec) @ w.T
    centroids = np.array([x_en[np.array(en_lab) == lab].mean(axis=0) for lab in LABELS])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    pred = np.argmax(x_zh @ centroids.T, axis=1)
    zero_shot = float(np.mean([LABELS[p] == y for p, y in zip(pred, zh_lab, strict=True)]))
    pred_en = np.argmax(x_en @ centroids.T, axis=1)
    en_acc = float(np.mean([LABELS[p] == y for p, y in zip(pred_en, en_lab, strict=True)]))
    return {
        "seed_pairs_used": len(seed),
        "bli_queries": len(queries),
        "bli_p_at_1": p_at_1,
        "en_train_accuracy": en_acc,
        "zero_shot_accuracy": zero_shot,
    }


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (default: data/tiny)"
    )
    parser.add_argument("--seed", type=int, default=13, help="random seed")
    parser.add_argument("--check", action="store_true", help="also verify that transfer works")
    args = parser.parse_args(argv)

    jieba = load_jieba()
    concepts = parse_lexicon()
    for c in concepts:
        for zh in c.zh:
            if jieba.lcut(zh) != [zh]:
                print(f"jieba splits lexicon word {zh!r} ({c.en})", file=sys.stderr)
                return 1

    graph = build_graph(concepts, rng_for(args.seed, "graph"))
    walkers = {
        lang: for_language(graph, rng_for(args.seed, f"graph_{lang}")) for lang in ("en", "zh")
    }
    files: dict[str, str] = {}
    zh_unlabelled_words: list[list[str]] = []
    for name, n in (("en_train", N_EN_TRAIN), ("zh_train", N_ZH_TRAIN), ("zh_test", N_ZH_TEST)):
        lines, labels, _ = generate(concepts, walkers[name[:2]], args.seed, name, n, labelled=True)
        files[f"{name}.csv"] = csv_text(lines, labels)
    for name in ("en_unlabelled", "zh_unlabelled"):
        lines, _, zh_words = generate(
            concepts, walkers[name[:2]], args.seed, name, N_UNLABELLED, labelled=False
        )
        files[f"{name}.txt"] = "".join(line + "\n" for line in lines)
        zh_unlabelled_words.extend(zh_words)
    files["dict_seed.txt"], files["dict_test.txt"] = split_dictionary(concepts, args.seed)

    recovery = jieba_recovery(jieba, zh_unlabelled_words)
    total = sum(len(text.encode("utf-8")) for text in files.values())
    args.out.mkdir(parents=True, exist_ok=True)
    for fname, text in files.items():
        (args.out / fname).write_bytes(text.encode("utf-8"))
        print(
            f"{fname:20s} {len(text.encode('utf-8')):>9,d} bytes {text.count(chr(10)):>7,d} lines"
        )
    print(f"{'total':20s} {total:>9,d} bytes")
    print(f"jieba recovery of intended Chinese words (unlabelled): {recovery:.4f}")
    errors = []
    if recovery < MIN_JIEBA_RECOVERY:
        errors.append(f"jieba recovery {recovery:.4f} is below {MIN_JIEBA_RECOVERY}")
    if total >= MAX_TOTAL_BYTES:
        errors.append(f"corpus is {total:,d} bytes, limit {MAX_TOTAL_BYTES:,d}")

    if args.check:
        for key, value in run_check(args.out, jieba).items():
            print(f"{key:20s} {value:.3f}" if isinstance(value, float) else f"{key:20s} {value}")
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
