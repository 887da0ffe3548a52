"""Cross-lingual embedding alignment: normalisation, affine maps, retrieval and BLI."""

from dtl_cli.align.bli import evaluate_bli, filter_pairs, induce_dictionary, read_dictionary
from dtl_cli.align.learn import LearnedMap, carry_vectors, learn_map
from dtl_cli.align.mappings import (
    apply_map,
    fit_linear,
    fit_procrustes,
    identity_map,
    invert_map,
)
from dtl_cli.align.normalize import normalize, unit_rows
from dtl_cli.align.retrieval import knn_mean_similarity, topk, topk_methods
from dtl_cli.align.selection import top_columns
from dtl_cli.align.self_learning import csls_induce, fit_self_learning, identical_pairs

__all__ = [
    "LearnedMap",
    "apply_map",
    "carry_vectors",
    "csls_induce",
    "evaluate_bli",
    "filter_pairs",
    "fit_linear",
    "fit_procrustes",
    "fit_self_learning",
    "identical_pairs",
    "identity_map",
    "induce_dictionary",
    "invert_map",
    "knn_mean_similarity",
    "learn_map",
    "normalize",
    "read_dictionary",
    "top_columns",
    "topk",
    "topk_methods",
    "unit_rows",
]
