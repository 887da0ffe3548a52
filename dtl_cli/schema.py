"""Dataclass schemas for every config group, registered in Hydra's ConfigStore: every default
lives here, once.

Each option of a group has its own schema (a mapping per method, a model per architecture,
an embedding per method) and its YAML file under configs/ builds on it, holding only what
differs. Merging a YAML file or a command-line override fails at once on an unknown key, a
wrong type or a value outside a choice (the `Choice` enums below), naming the key. Numbers
carry their allowed range on the field (`number(0.2, ge=0, lt=1)`) and `check_config` walks
every field of a composed config once, before any stage and before TensorFlow's import.

To add a key: a field with its default; a fixed set of values is a `choice(...)` enum, a
bounded number a `number(default, ge=.., lt=..)` field, a file or folder a `path(...)` field
(checked by `dtl_cli.preflight` before any work). A schema that only changes a default
(`epochs: int = 20`) keeps its base's range. A new option of a group: a schema here,
decorated `@option(group, name)` (which registers it in `OPTIONS` and sets its selector),
and configs/<group>/<option>.yaml starting `defaults: [/schema/<group>/<option>@_here_,
_self_]`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from importlib import resources
from typing import Any

from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf

from dtl_cli.errors import ConfigError


class Choice(str, Enum):
    """A fixed set of string values; OmegaConf rejects any other, naming key and choices.

    Members compare, hash and format as their plain string (`Model.dan == "dan"`), so
    library code and store keys see ordinary strings.
    """

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


def choice(name: str, values: str) -> type[Choice]:
    """A Choice enum whose member names are its values, e.g. choice("Model", "dan cnn")."""
    return Choice(name, [(v, v) for v in values.split()], module=__name__)


Tokenizer = choice("Tokenizer", "nltk jieba chars whitespace")
FileFormat = choice("FileFormat", "auto csv tsv jsonl dir")
EmbeddingMethod = choice("EmbeddingMethod", "word2vec fasttext pretrained")
DictScript = choice("DictScript", "auto t2s s2t none")
NormalizeStep = choice("NormalizeStep", "unit center none")
MappingMethod = choice("MappingMethod", "linear procrustes self_learning none")
Direction = choice("Direction", "source_to_target target_to_source")
SeedSource = choice("SeedSource", "dictionary identical numerals")
Dewhiten = choice("Dewhiten", "src trg")
ShrinkToward = choice("ShrinkToward", "zero orthogonal")
ModelName = choice("ModelName", "dan cnn bilstm")
Optimizer = choice("Optimizer", "adam sgd rmsprop")
ClassWeight = choice("ClassWeight", "none balanced")
LabelShift = choice("LabelShift", "em none")
Calibration = choice("Calibration", "temperature none")
Combine = choice("Combine", "ensemble none")
WeightBy = choice("WeightBy", "accuracy log_likelihood")
Strategy = choice("Strategy", "zero_shot full frozen_embeddings head_only gradual")
DeviceKind = choice("DeviceKind", "auto cpu gpu")
Fallback = choice("Fallback", "cpu error")


@dataclass(frozen=True)
class Range:
    """Bounds of a number, or of each number in a list or dict; `words` are strings allowed
    besides numbers (e.g. "all"), `whole` asks for integers (for fields typed Any)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    words: tuple[str, ...] = ()
    whole: bool = False
    null: bool = False  # null is allowed too (shown in the message; the type admits it)
    unique: bool = False  # a list may hold each value once
    at_least: str | None = None  # a sibling key this value may not be below (min_n..max_n)
    keys: tuple[str, ...] = ()  # a dict's allowed keys (none: any)

    def accepts(self, value: Any) -> bool:
        if isinstance(value, str):
            return value in self.words
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.whole and not isinstance(value, int):
            return False
        return not (
            math.isnan(value)
            or (self.ge is not None and value < self.ge)
            or (self.gt is not None and value <= self.gt)
            or (self.le is not None and value > self.le)
            or (self.lt is not None and value >= self.lt)
        )

    def describe(self) -> str:
        """E.g. "in [0, 1)", ">= 1", "a whole number >= 0 or 'all'"."""
        low = f"[{self.ge:g}" if self.ge is not None else None
        low = f"({self.gt:g}" if self.gt is not None else low
        high = f"{self.le:g}]" if self.le is not None else None
        high = f"{self.lt:g})" if self.lt is not None else high
        if low and high:
            text = f"in {low}, {high}"
        elif low:
            text = (">= " if low[0] == "[" else "> ") + low[1:]
        elif high:
            text = ("<= " if high[-1] == "]" else "< ") + high[:-1]
        else:
            text = "a number"
        text = f"a whole number {text}" if self.whole else text
        return " or ".join([text, *(repr(w) for w in self.words), *(["null"] if self.null else [])])


def number(default: Any, **bounds: Any) -> Any:
    """A field with a default and a `Range` (ge/gt/le/lt, words, whole); lists and dicts have
    each of their values checked."""
    meta = {"range": Range(**bounds, null=default is None)}
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def path(default: Any = MISSING, kind: str = "file") -> Any:
    """A field holding a path (or a list of paths) that must exist as `kind` before any work:
    "file", "folder", or "data" (a file, or a folder for the `dir` format)."""
    meta = {"path": kind}
    if isinstance(default, list):
        return field(default_factory=list, metadata=meta)
    return field(default=default, metadata=meta)


def selector() -> Any:
    """The field naming a group's option (model.name, mapping.method): each option's schema
    sets it, and a config whose value disagrees with its schema is rejected."""
    return field(default=MISSING, metadata={"selects": True})


# group -> option -> schema; configs/<group>/<option>.yaml builds on `/schema/<group>/<option>`.
OPTIONS: dict[str, dict[str, type]] = {}


def option(group: str, name: str = "base"):
    """Class decorator: the dataclass schema of option ``name`` of ``group``, registered in
    OPTIONS. Its selector field (inherited from the group's base schema, e.g.
    mapping.method) defaults to ``name``."""

    def register(cls: type) -> type:
        selecting = _selector(cls)
        if selecting is not None:
            owner, key = selecting
            own = dict(cls.__dict__.get("__annotations__", {}))
            cls.__annotations__ = {key: owner.__dataclass_fields__[key].type, **own}
            setattr(cls, key, typing.get_type_hints(owner)[key][name])
        OPTIONS.setdefault(group, {})[name] = dataclass(cls)
        return OPTIONS[group][name]

    return register


def _selector(cls: type) -> tuple[type, str] | None:
    """(base schema, field name) of the selector field cls inherits, or None."""
    for base in cls.__mro__[1:]:
        for f in dataclasses.fields(base) if dataclasses.is_dataclass(base) else ():
            if f.metadata.get("selects"):
                return base, f.name
    return None


# ---------------------------------------------------------------------------------- dataset


@dataclass
class LabelledFile:
    path: str = path(kind="data")
    format: FileFormat = FileFormat.auto  # auto: by suffix (.csv, .tsv, .jsonl, also .gz)
    text_column: str = "text"
    label_column: str = "label"


@dataclass
class SourceSide:
    lang: str = "en"
    tokenizer: Tokenizer = Tokenizer.nltk
    lowercase: bool = True
    train: LabelledFile = field(default_factory=LabelledFile)
    unlabelled: list[str] = path([])


@dataclass
class TargetSide:
    lang: str = "zh"
    tokenizer: Tokenizer = Tokenizer.jieba
    lowercase: bool = True
    train: LabelledFile = field(default_factory=LabelledFile)
    test: LabelledFile = field(default_factory=LabelledFile)
    unlabelled: list[str] = path([])


@dataclass
class Dictionaries:
    seed: str = path()  # MUSE format: `source target` per line; trains the map
    test: str = path()  # held-out pairs for bilingual lexicon induction
    # Chinese script of the dictionaries' Chinese side: auto (convert it into the corpus's
    # script with OpenCC) | t2s (Traditional -> Simplified) | s2t | none (as written).
    script: DictScript = DictScript.auto


@option("dataset")
class DatasetConfig:
    name: str = MISSING
    source: SourceSide = field(default_factory=SourceSide)
    target: TargetSide = field(default_factory=TargetSide)
    dictionary: Dictionaries = field(default_factory=Dictionaries)


# -------------------------------------------------------------------------------- embedding


@dataclass
class EmbeddingConfig:
    """What every embedding method has: the vocabulary cap and the normalisation steps."""

    method: EmbeddingMethod = selector()
    max_vocab: int | None = number(None, ge=1)  # the N most frequent words; null = all
    # Applied to both spaces before mapping and classification (VecMap's unit, center, unit).
    normalize: list[NormalizeStep] = field(
        default_factory=lambda: [NormalizeStep.unit, NormalizeStep.center, NormalizeStep.unit]
    )


@option("embedding", "word2vec")
class Word2VecEmbedding(EmbeddingConfig):
    dim: int = number(50, ge=1)
    window: int = number(5, ge=1)
    min_count: int = number(2, ge=1)
    epochs: int = number(5, ge=1)
    skipgram: bool = True
    negative: int = number(5, ge=0)
    # 1: deterministic; N threads, or auto (every core): faster, not bit-reproducible
    workers: Any = number(1, ge=1, whole=True, words=("auto",))
    # true: the target test split's text (never its labels) also trains the target word2vec
    # vectors: transductive, and a new test file then retrains them. false: inductive.
    transductive: bool = False


@option("embedding", "fasttext")
class FastTextEmbedding(Word2VecEmbedding):
    """word2vec over words and their character n-grams (gensim FastText)."""

    # character n-grams of min_n..max_n characters, hashed into `bucket` rows.
    min_n: int = number(1, ge=1)
    max_n: int = number(4, ge=1, at_least="min_n")
    bucket: int = number(200000, ge=1)


@option("embedding", "pretrained")
class PretrainedEmbedding(EmbeddingConfig):
    """Vectors from files: word2vec/fastText text (.vec, .txt, .gz), binary (.bin), .kv."""

    source_vectors: str = path()
    target_vectors: str = path()
    max_vocab: int | None = 200000
    lowercase: bool = False  # lower-case the words while loading (first occurrence wins)


# ---------------------------------------------------------------------------------- mapping


@dataclass
class MappingConfig:
    """What every mapping method has: the seed, the direction fitted, normalisation."""

    method: MappingMethod = selector()
    # Steps applied in order to both spaces before fitting. Empty because pretrain already
    # applies [unit, center, unit] (embedding.normalize).
    normalize: list[NormalizeStep] = field(default_factory=list)
    # target_to_source fits g: target -> source and stores its inverse, so map.npz is
    # always source -> target. BLI is reported both ways.
    direction: Direction = Direction.source_to_target
    # dictionary (dataset.dictionary.seed), identical (strings spelled the same in both
    # vocabularies) or numerals (identical strings of digits only).
    seed: SeedSource = SeedSource.dictionary
    seed_pairs: int | None = number(None, ge=1)  # only the first N usable pairs; null = all
    # The target vectors carried into the source space get embedding.normalize (the source
    # space's steps) before the classifier reads them: a least-squares map shrinks them.
    carry_normalize: bool = False


@option("mapping", "none")
class NoMapping(MappingConfig):
    """Maps nothing: the source vectors are used as they are (equal dimensions)."""


@option("mapping", "linear")
class LinearMapping(MappingConfig):
    """Least squares, each way on its own. On spaces far from isomorphic it shrinks the
    carried vectors (so they get the source's normalisation) and amplifies the target's
    weak directions (so the ridge, pulling W toward the pairs' rotation: 16 = sixteen times
    the average variance added to every direction; chosen on the dev task, see README)."""

    ridge: float = number(16.0, ge=0)  # L2 penalty on W - W0
    # true: ridge is in units of the mean eigenvalue of the pairs' centred Gram matrix (its
    # trace / dim), whatever the pair count, dimension and norms; false: absolute.
    ridge_relative: bool = True
    # W0: zero (plain ridge: shrinks the map) or orthogonal (the pairs' Procrustes map, so
    # W stays an affine map pulled toward a rotation; ridge -> infinity is Procrustes).
    shrink_toward: ShrinkToward = ShrinkToward.orthogonal
    carry_normalize: bool = True


@option("mapping", "procrustes")
class ProcrustesMapping(MappingConfig):
    """Orthogonal W by SVD, with the multi-step framework (Artetxe et al. 2018) applied to
    the final dictionary: whitening, re-weighting by singular values^power, de-whitening."""

    whiten: bool = False
    src_reweight: float = number(0.0, ge=0)
    trg_reweight: float = number(0.0, ge=0)
    src_dewhiten: Dewhiten | None = None
    trg_dewhiten: Dewhiten | None = None


@option("mapping", "self_learning")
class SelfLearningMapping(ProcrustesMapping):
    """Procrustes alternated with CSLS induction among the `cutoff` most frequent words;
    stochastic induction from keep_prob, doubled after `patience` flat iterations."""

    cutoff: int = number(20000, ge=1)
    csls_k: int = number(10, ge=1)
    keep_prob: float = number(0.1, gt=0, le=1)
    patience: int = number(5, ge=1)
    min_improvement: float = number(1e-6, ge=0)
    max_iterations: int = number(100, ge=1)
    # Rows of the cutoff x cutoff similarity at a time (memory ~ 3 x batch x cutoff x 4 B).
    batch_size: int = number(2048, ge=1)
    # Seed pairs join every induced dictionary (anchoring the fits to them).
    keep_seed: bool = False
    # Keep the iteration whose map best fits held-out seed pairs, not the last one (on far
    # from isomorphic spaces the loop can drift away from the seed pairs).
    drift_guard: bool = True
    # With the drift guard: stop after this many iterations without a better held-out seed
    # cosine (null: run to the schedule's end or max_iterations).
    drift_patience: int | None = number(10, ge=1)


# ------------------------------------------------------------------------------------ model


@dataclass
class AdaptConfig:
    """Label-free adaptation of the transferred classifier, from the target training pool
    without its labels (never the test split), before any k-shot fine-tuning."""

    label_shift: LabelShift = LabelShift.em  # em: target class priors by EM (Saerens 2002)
    # The target-only classifier's outputs are calibrated before its EM: temperature = one
    # temperature (at most 1: it only sharpens) fitted on out-of-fold outputs of its k
    # examples, built into the model.
    calibration: Calibration = Calibration.temperature
    # Self-training runs until the pseudo-labels' class shares settle (move at most
    # self_training_tolerance between rounds; 0 = every round), at most this many rounds:
    # each round's student re-estimates the priors, which move toward the target's by steps.
    self_training_rounds: int = number(15, ge=0)  # 0 = none
    self_training_tolerance: float = number(0.005, ge=0, lt=1)
    self_training_fraction: float = number(0.3, gt=0, le=1)  # pool share pseudo-labelled/round
    # Source classifier re-trained for transfer (0 epochs = the pretrain one as it is): a
    # short training transfers better than one fitted to the source domain's detail.
    source_epochs: int = number(2, ge=0)
    source_learning_rate: float = number(0.001, gt=0)
    adversarial_weight: float = number(0.0, ge=0)  # > 0: language-adversarial head (DAN only)
    # The unlabelled text read: the pool + dataset.target.unlabelled documents not in it, a
    # seeded sample of at most this many (self-training trains on a share of them each round).
    max_documents: int = number(10000, ge=1, whole=True)


@dataclass
class FinetuneConfig:
    # How the transferred classifier itself learns from the k examples (zero_shot = not at
    # all; with combine=ensemble the k examples train the target-only part instead).
    strategy: Strategy = Strategy.zero_shot
    epochs: int = number(30, ge=1)
    # One learning rate per strategy: updating more layers wants a smaller step.
    learning_rates: dict[str, float] = number(
        {"full": 0.0005, "frozen_embeddings": 0.001, "head_only": 0.003, "gradual": 0.001},
        gt=0,
        keys=("full", "frozen_embeddings", "head_only", "gradual"),
    )
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    # k > 0: ensemble = mix with a target-only classifier on the k examples, weight by CV
    combine: Combine = Combine.ensemble
    # What the mix weight maximises on the k examples (out of fold): accuracy (ties go to
    # the log-likelihood) or the mean log-likelihood (a proper score: it sees how sure each
    # side is). On the dev task neither is better over seeds 0-2 (README).
    weight_by: WeightBy = WeightBy.accuracy


@dataclass
class ModelConfig:
    """What every classifier has: the head over the document vector, and training."""

    name: ModelName = selector()
    hidden: list[int] = number([64], ge=1)  # dense layers of the head, units each
    dropout: float = number(0.2, ge=0, lt=1)
    # Tokens a document keeps: a number, or auto = the max_len_percentile of the source
    # training documents' lengths, rounded up to a multiple of 16, at most max_len_cap.
    max_len: Any = number("auto", ge=1, whole=True, words=("auto",))
    max_len_percentile: float = number(95.0, gt=0, le=100)
    max_len_cap: int = number(512, ge=1)
    epochs: int = number(30, ge=1)
    batch_size: int = number(32, ge=1)
    optimizer: Optimizer = Optimizer.adam
    learning_rate: float = number(0.003, gt=0)
    validation_split: float = number(0.1, ge=0, lt=1)
    early_stopping_patience: int = number(5, ge=1)
    class_weight: ClassWeight = ClassWeight.none  # balanced: inverse class frequency
    trainable_embeddings: bool = False  # the source embedding layer while training on source
    adapt_norm: bool = False  # AdaBN: batch-norm the document vector, re-estimated on target
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)


@option("model", "dan")
class DanModel(ModelConfig):
    """Deep averaging network: mean of word vectors -> dense layers -> softmax."""


@option("model", "cnn")
class CnnModel(ModelConfig):
    """Convolutions of several widths over the word vectors, each max-pooled over time."""

    filters: int = number(64, ge=1)  # per width
    kernel_sizes: list[int] = number([2, 3, 4], ge=1)  # widths in tokens
    epochs: int = 20


@option("model", "bilstm")
class BilstmModel(ModelConfig):
    """Bidirectional LSTM over the word vectors, averaged over the non-padding positions."""

    lstm_units: int = number(64, ge=1)  # per direction
    epochs: int = 15


# ------------------------------------------------------------------------- evaluation, rest


@dataclass
class BLIConfig:
    precision_at: list[int] = number([1, 5, 10], ge=1, unique=True)
    csls_k: int = number(10, ge=1)
    # CSLS r_S over the N most frequent mapped source words only (approximate, V_t x N
    # products instead of V_t x V_s); null = the whole vocabulary (exact).
    csls_pool: int | None = number(None, ge=1)
    # Score BLI only on test pairs whose source word is not in the seed dictionary.
    drop_seed_overlap: bool = False


@option("evaluation")
class EvaluationConfig:
    # k labelled target examples (0 = zero-shot, all = every one), or a list: a curve.
    k: Any = number(0, ge=0, whole=True, words=("all",), unique=True)
    repeats: int = number(1, ge=1)  # k-shot samples (and seeds) per k
    # Share of the target training split held out (stratified, seeded) as a dev split for
    # hyperparameter search; k-shot samples come from the rest. 0: no dev split.
    dev_fraction: float = number(0.0, ge=0, lt=1)
    # The number a run returns to a Hydra sweeper (Optuna), e.g. dev_macro_f1@50,
    # dev_accuracy (largest k), dev_gain_accuracy@10, bli.csls.p@1. null: returns nothing.
    objective: str | None = None
    bli: BLIConfig = field(default_factory=BLIConfig)


@option("device")
class DeviceConfig:
    kind: DeviceKind = DeviceKind.auto
    gpus: list[int] = number([], ge=0, unique=True)
    fallback: Fallback = Fallback.cpu  # when a GPU asked for is not there
    memory_growth: bool = True
    mixed_precision: bool = False  # float16 compute on GPUs that support it


@option("logger")
class LoggerConfig:
    # TensorBoard logs always go to <run>/tensorboard/; `logger=mlflow` adds an MLflow run.
    mlflow: bool = False
    # null: a file store in <paths.output>/mlruns; or a path, file:/..., http://host:5000
    tracking_uri: str | None = None
    experiment: str = "dtl"
    # TensorBoard's HParams view: <run>/tensorboard/hparams/ with the config and final numbers.
    tensorboard_hparams: bool = False


@dataclass
class PathsConfig:
    store: str = ".dtl/store"
    output: str = "outputs"


@dataclass
class DtlConfig:
    dataset: DatasetConfig = MISSING
    embedding: EmbeddingConfig = MISSING
    mapping: MappingConfig = MISSING
    model: ModelConfig = MISSING
    evaluation: EvaluationConfig = MISSING
    device: DeviceConfig = MISSING
    logger: LoggerConfig = MISSING
    seed: int = number(0, ge=0)
    deterministic: bool = True
    paths: PathsConfig = field(default_factory=PathsConfig)


def is_a(node: Any, schema: type) -> bool:
    """True if the config node was built on `schema` (or a schema derived from it)."""
    kind = OmegaConf.get_type(node) if isinstance(node, DictConfig) else None
    return isinstance(kind, type) and issubclass(kind, schema)


def check_config(cfg: DictConfig) -> None:
    """Raise ConfigError for the first value outside its field's range, a key the schema
    does not have (as `+key=value` adds), or a broken `RULES` line, naming the key; run on a
    composed config."""
    problem = next(_problems(cfg, ""), None) or next(_broken_rules(cfg), None)
    if problem:
        raise ConfigError(problem)


# Rules between keys of different groups: (broken(cfg), the line that says so). A stage may
# check the same again; here it fails before any stage runs.
RULES: list[tuple[Callable[[DictConfig], bool], str]] = [
    (
        lambda c: (
            c.model.finetune.adapt.adversarial_weight > 0
            and (c.model.name != "dan" or c.model.adapt_norm)
        ),
        "model.finetune.adapt.adversarial_weight > 0 needs model.name=dan and "
        "model.adapt_norm=false: the adversarial head reads fixed document vectors",
    ),
]


def _broken_rules(cfg: DictConfig) -> Iterator[str]:
    for broken, line in RULES:
        try:
            if broken(cfg):
                yield line
        except (AttributeError, KeyError, TypeError):  # a partial config (a test's node)
            continue


def tagged(
    cfg: DictConfig, tag: str, prefix: str = ""
) -> Iterator[tuple[str, Any, Any, DictConfig]]:
    """(full key, value, tag value, parent node) of every set field whose schema carries
    metadata `tag` (e.g. "path"), depth first in schema order."""
    fields_ = schema_fields(cfg)
    for key in fields_:
        if key not in cfg or OmegaConf.is_missing(cfg, key):
            continue
        value = cfg[key]
        if schema_fields(value):
            yield from tagged(value, tag, f"{prefix}{key}.")
        elif tag in fields_[key] and value is not None:
            yield f"{prefix}{key}", value, fields_[key][tag], cfg


def schema_fields(node: Any) -> dict[str, dict]:
    """Field name -> metadata of the node's schema, inherited metadata included (a schema that
    only changes a default keeps its base's range); {} for a node without a schema."""
    kind = OmegaConf.get_type(node) if isinstance(node, DictConfig) else None
    if not (isinstance(kind, type) and dataclasses.is_dataclass(kind)):
        return {}
    merged: dict[str, dict] = {}
    for cls in reversed(kind.__mro__):
        for f in dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ():
            merged[f.name] = {**merged.get(f.name, {}), **f.metadata, "default": f.default}
    return merged


def _problems(node: DictConfig, prefix: str) -> Iterator[str]:
    fields_ = schema_fields(node)
    for key in node:
        full = f"{prefix}{key}"
        if key not in fields_:
            hint = _hint(str(key), fields_, prefix)
            yield f"{full} is not a key of {_where(node, prefix)}; {hint}"
        elif not OmegaConf.is_missing(node, key):
            value = node[key]
            if schema_fields(value):
                yield from _problems(value, f"{full}.")
            else:
                yield from _value_problems(full, value, fields_[key], _where(node, prefix))
                yield from _relation_problems(node, prefix, key, fields_[key])


def _value_problems(full: str, value: Any, meta: dict, where: str) -> Iterator[str]:
    chosen = meta["default"] if meta.get("selects") else MISSING
    if chosen is not MISSING and value != chosen:
        group = full.rsplit(".", 1)[0]
        yield (
            f"{full}={value} does not fit {where}, the schema of {group}={chosen}; choose the "
            f"option instead: {group}={value}"
        )
    bounds = meta.get("range")
    if bounds is None or value is None:
        return
    if isinstance(value, DictConfig):
        items = [(f"{full}.{k}", v) for k, v in value.items()]
        stray = [str(k) for k in value if bounds.keys and k not in bounds.keys]
        if stray:
            near = difflib.get_close_matches(stray[0], bounds.keys, n=1)
            hint = f"did you mean {full}.{near[0]}? " if near else ""
            listing = ", ".join(bounds.keys)
            yield f"{full}.{stray[0]} is not a key of {full}; {hint}(keys: {listing})"
            return
    elif isinstance(value, ListConfig):
        items = [(f"{full}[{i}]", v) for i, v in enumerate(value)]
    else:
        items = [(full, value)]
    for name, item in items:
        if not bounds.accepts(item):
            yield f"{name}={item} must be {bounds.describe()}"
            return
    if bounds.unique and isinstance(value, ListConfig):
        seen = list(value)
        twice = next((v for i, v in enumerate(seen) if v in seen[:i]), None)
        if twice is not None:
            yield f"{full}={seen} lists {twice} twice; give each value once"


def _relation_problems(node: DictConfig, prefix: str, key: str, meta: dict) -> Iterator[str]:
    """A value below the sibling its range names (`Range.at_least`)."""
    bounds = meta.get("range")
    other = bounds.at_least if bounds else None
    if other is None or node[key] is None or node.get(other) is None:
        return
    if isinstance(node[key], int | float) and node[key] < node[other]:
        yield (
            f"{prefix}{key}={node[key]} must be >= {prefix}{other}={node[other]}; raise it or "
            f"lower {prefix}{other}"
        )


def _where(node: DictConfig, prefix: str) -> str:
    kind = OmegaConf.get_type(node)
    name = prefix.rstrip(".") or "the config"
    return f"{name} ({kind.__name__})" if isinstance(kind, type) else name


def _hint(key: str, fields_: dict, prefix: str) -> str:
    near = difflib.get_close_matches(key, list(fields_), n=1, cutoff=0.6)
    listing = "list the valid keys with `dtl run --cfg job`"
    return f"did you mean {prefix}{near[0]}? ({listing})" if near else listing


def key_hint(class_name: str, key: str, prefix: str) -> str:
    """`did you mean ...` for a key missing from the schema named `class_name`."""
    for value in list(globals().values()):
        if dataclasses.is_dataclass(value) and getattr(value, "__name__", "") == class_name:
            return _hint(key, {f.name: f for f in dataclasses.fields(value)}, prefix)
    return _hint(key, {}, prefix)


def packaged_data_path(relative: str = "") -> str:
    """Absolute path of a file shipped in the package's data folder (data/ in a checkout)."""
    root = resources.files("dtl_cli.data")
    return str(root.joinpath(relative)) if relative else str(root)


def register() -> None:
    """Register the schemas and the `${dtl_data:...}` resolver (idempotent)."""
    from hydra.core.config_store import ConfigStore  # here: reading schemas needs no Hydra

    cs = ConfigStore.instance()
    # The root schema types every group, so merging a group's YAML validates it too.
    cs.store(name="dtl_schema", node=DtlConfig)
    for group, options in OPTIONS.items():
        for option, schema in options.items():
            cs.store(group=f"schema/{group}", name=option, node=schema)
    if not OmegaConf.has_resolver("dtl_data"):
        OmegaConf.register_new_resolver("dtl_data", packaged_data_path)
