"""The pipeline's stages and the verbs that run them, defined once (imports nothing, so
`dtl --help` and `dtl report` stay instant)."""

from __future__ import annotations

STAGES = ("pretrain", "map", "finetune", "evaluate")


# verb -> (one line of help, the stages it asks for; upstream ones run first when missing)
VERBS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pretrain": (
        "tokenize, train word vectors per language, train the source classifier",
        ("pretrain",),
    ),
    "map": ("learn f(x) = W x + b from the source into the target space, report BLI", ("map",)),
    "finetune": (
        "carry the classifier into the target language, fine-tune on k examples",
        ("finetune",),
    ),
    "transfer": ("map, then finetune", ("map", "finetune")),
    "evaluate": (
        "target test metrics beside a target-only baseline -> metrics.json",
        ("evaluate",),
    ),
    "run": ("all four stages: pretrain, map, finetune, evaluate", STAGES),
}
