"""Dataclass schemas for every config group, registered in Hydra's ConfigStore.

Merging a YAML file or a command-line override into these fails at once on an unknown key or
a wrong type, naming the key, before any work starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf


@dataclass
class LabelledFile:
    path: str = MISSING
    format: str = "auto"  # auto | csv | tsv | jsonl | dir
    text_column: str = "text"
    label_column: str = "label"


@dataclass
class SourceSide:
    lang: str = "en"
    tokenizer: str = "nltk"  # nltk | jieba | chars | whitespace
    lowercase: bool = True
    train: LabelledFile = field(default_factory=LabelledFile)
    unlabelled: list[str] = field(default_factory=list)


@dataclass
class TargetSide:
    lang: str = "zh"
    tokenizer: str = "jieba"
    lowercase: bool = True
    train: LabelledFile = field(default_factory=LabelledFile)
    test: LabelledFile = field(default_factory=LabelledFile)
    unlabelled: list[str] = field(default_factory=list)


@dataclass
class Dictionaries:
    seed: str = MISSING  # MUSE format: `source target` per line; trains the map
    test: str = MISSING  # held-out pairs for bilingual lexicon induction
    # Chinese script of the dictionaries' Chinese side: auto (convert it into the corpus's
    # script with OpenCC) | t2s (Traditional -> Simplified) | s2t | none (as written).
    script: str = "auto"


@dataclass
class DatasetConfig:
    name: str = MISSING
    source: SourceSide = field(default_factory=SourceSide)
    target: TargetSide = field(default_factory=TargetSide)
    dictionary: Dictionaries = field(default_factory=Dictionaries)


@dataclass
class EmbeddingConfig:
    method: str = MISSING  # word2vec | fasttext | pretrained
    dim: int = 50
    window: int = 5
    min_count: int = 2
    epochs: int = 5
    skipgram: bool = True
    negative: int = 5
    # 1: deterministic; N threads, or auto (every core): faster, not bit-reproducible
    workers: Any = 1
    # fasttext: character n-grams of min_n..max_n characters, hashed into `bucket` rows.
    min_n: int = 1
    max_n: int = 4
    bucket: int = 200000
    max_vocab: int | None = None
    source_vectors: str | None = None
    target_vectors: str | None = None
    lowercase: bool = False
    normalize: list[str] = field(default_factory=lambda: ["unit", "center", "unit"])
    # true: the target test split's text (never its labels) also trains the target word2vec
    # vectors: transductive, and a new test file then retrains them. false: inductive.
    transductive: bool = False


@dataclass
class MappingConfig:
    method: str = MISSING  # linear | procrustes | self_learning | none
    ridge: float = 0.0  # linear only: L2 penalty on W
    # Steps applied in order to both spaces before fitting (unit | center | none).
    normalize: list[str] = field(default_factory=list)
    direction: str = "source_to_target"  # source_to_target | target_to_source
    seed: str = "dictionary"  # dictionary | identical | numerals
    seed_pairs: int | None = None  # use only the first N usable seed-dictionary pairs
    # Multi-step framework (procrustes, self_learning; Artetxe et al. 2018): whitening,
    # re-weighting by singular values^power, de-whitening (null | src | trg) per side.
    whiten: bool = False
    src_reweight: float = 0.0
    trg_reweight: float = 0.0
    src_dewhiten: str | None = None
    trg_dewhiten: str | None = None
    # Self-learning (Artetxe et al. 2018): CSLS induction among the `cutoff` most frequent
    # words, stochastic induction from keep_prob doubling after `patience` flat iterations.
    cutoff: int = 20000
    csls_k: int = 10
    keep_prob: float = 0.1
    patience: int = 5
    min_improvement: float = 1e-6
    max_iterations: int = 100
    batch_size: int = 2048
    # Seed pairs join every induced dictionary (anchoring the fits to them).
    keep_seed: bool = False
    # Keep the iteration whose map best fits held-out seed pairs, not the last one (on far
    # from isomorphic spaces the loop can drift away from the seed pairs).
    drift_guard: bool = True


@dataclass
class AdaptConfig:
    """Label-free adaptation of the transferred classifier, from the target training pool
    without its labels (never the test split), before any k-shot fine-tuning."""

    label_shift: str = "em"  # em (target class priors by EM, Saerens 2002) | none
    self_training_rounds: int = 2  # 0 = none
    self_training_fraction: float = 0.3  # share of the pool pseudo-labelled per round
    # Source classifier re-trained for transfer (0 epochs = the pretrain one as it is): a
    # short training transfers better than one fitted to the source domain's detail.
    source_epochs: int = 2
    source_learning_rate: float = 0.001
    adversarial_weight: float = 0.0  # > 0: language-adversarial source head (DAN only)


@dataclass
class FinetuneConfig:
    # zero_shot | full | frozen_embeddings | head_only | gradual: how the transferred
    # classifier itself learns from the k examples (zero_shot = not at all; with
    # combine=ensemble the k examples train the target-only part instead)
    strategy: str = "zero_shot"
    epochs: int = 30
    # One learning rate per strategy: updating more layers wants a smaller step.
    learning_rates: dict[str, float] = field(
        default_factory=lambda: {
            "full": 0.0005,
            "frozen_embeddings": 0.001,
            "head_only": 0.003,
            "gradual": 0.001,
        }
    )
    adapt: AdaptConfig = field(default_factory=AdaptConfig)
    # k > 0: ensemble = mix with a target-only classifier on the k examples, weight by CV
    combine: str = "ensemble"  # ensemble | none


@dataclass
class ModelConfig:
    name: str = MISSING  # dan | cnn | bilstm
    hidden: list[int] = field(default_factory=lambda: [64])
    dropout: float = 0.2
    filters: int = 64
    kernel_sizes: list[int] = field(default_factory=lambda: [2, 3, 4])
    lstm_units: int = 64
    # Tokens a document keeps: a number, or auto = the max_len_percentile of the source
    # training documents' lengths, rounded up to a multiple of 16, at most max_len_cap.
    max_len: Any = "auto"
    max_len_percentile: float = 95.0
    max_len_cap: int = 512
    epochs: int = 30
    batch_size: int = 32
    optimizer: str = "adam"  # adam | sgd | rmsprop
    learning_rate: float = 0.003
    validation_split: float = 0.1
    early_stopping_patience: int = 5
    class_weight: str = "none"  # none | balanced
    trainable_embeddings: bool = False
    adapt_norm: bool = False  # AdaBN: target-side batch-norm statistics, no labels needed
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)


@dataclass
class BLIConfig:
    precision_at: list[int] = field(default_factory=lambda: [1, 5, 10])
    csls_k: int = 10
    # CSLS r_S over the N most frequent mapped source words only (approximate, V_t x N
    # products instead of V_t x V_s); null = the whole vocabulary (exact).
    csls_pool: int | None = None


@dataclass
class EvaluationConfig:
    k: Any = 0  # an int >= 0, "all", or a list of them for a learning curve
    repeats: int = 1  # k-shot samples (and seeds) per k, for mean and standard deviation
    # Share of the target training split held out (stratified, seeded) as a dev split for
    # hyperparameter search; k-shot samples come from the rest. 0: no dev split.
    dev_fraction: float = 0.0
    # The number a run returns to a Hydra sweeper (Optuna), e.g. dev_macro_f1@50,
    # dev_accuracy (largest k), dev_gain_accuracy@10, bli.csls.p@1. null: returns nothing.
    objective: str | None = None
    bli: BLIConfig = field(default_factory=BLIConfig)


@dataclass
class DeviceConfig:
    kind: str = "auto"  # auto | cpu | gpu
    gpus: list[int] = field(default_factory=list)
    fallback: str = "cpu"  # cpu | error
    memory_growth: bool = True
    mixed_precision: bool = False


@dataclass
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
    seed: int = 0
    deterministic: bool = True
    paths: PathsConfig = field(default_factory=PathsConfig)


def packaged_data_path(relative: str = "") -> str:
    """Absolute path of a file shipped in the package's data folder (data/ in a checkout)."""
    root = resources.files("dtl_cli.data")
    return str(root.joinpath(relative)) if relative else str(root)


def register() -> None:
    """Register the schemas and the `${dtl_data:...}` resolver (idempotent)."""
    cs = ConfigStore.instance()
    # The root schema types every group, so merging a group's YAML validates it too.
    cs.store(name="dtl_schema", node=DtlConfig)
    if not OmegaConf.has_resolver("dtl_data"):
        OmegaConf.register_new_resolver("dtl_data", packaged_data_path)
