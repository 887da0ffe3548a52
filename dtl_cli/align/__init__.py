"""Cross-lingual embedding alignment: normalisation, affine maps, retrieval and BLI."""

from dtl_cli.align.bli import evaluate_bli, filter_pairs, induce_dictionary, read_dictionary
from dtl_cli.align.mappings import (
    apply_map,
    fit_linear,
    fit_procrustes,
    identity_map,
    invert_map,
)
from dtl_cli.align.normalize import normalize
from dtl_cli.align.retrieval import knn_mean_similarity, topk, unit_rows

__all__ = [
    "apply_map",
    "evaluate_bli",
    "filter_pairs",
    "fit_linear",
    "fit_procrustes",
    "identity_map",
    "induce_dictionary",
    "invert_map",
    "knn_mean_similarity",
    "normalize",
    "read_dictionary",
    "topk",
    "unit_rows",
]
