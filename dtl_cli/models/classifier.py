"""Text classifiers over a fixed vocabulary matrix, and carrying one into another vocabulary.

Inputs are token ids [batch, max_len] (int32, 0 = padding); outputs class probabilities
[batch, n_classes]. The embedding layer is always named "embedding", so the layers above it
can be moved to a model over another language's matrix by name.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

MODELS = ("dan",)
EMBEDDING_LAYER = "embedding"


def build_classifier(
    name: str,
    matrix: np.ndarray,
    n_classes: int,
    *,
    max_len: int,
    hidden: list[int],
    dropout: float,
    trainable_embeddings: bool = False,
) -> keras.Model:
    """A classifier whose embedding layer holds `matrix` [vocab_size, dim] (row 0 = padding)."""
    if name != "dan":
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    vocab_size, dim = matrix.shape
    token_ids = keras.Input(shape=(max_len,), dtype="int32", name="token_ids")
    embedding = layers.Embedding(
        vocab_size, dim, mask_zero=True, trainable=trainable_embeddings, name=EMBEDDING_LAYER
    )
    x = embedding(token_ids)
    # Deep averaging network (Iyyer et al., 2015): mean over the non-padding positions.
    x = layers.GlobalAveragePooling1D(name="average")(x)
    for i, units in enumerate(hidden):
        x = layers.Dense(units, activation="relu", name=f"hidden_{i}")(x)
        x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    probabilities = layers.Dense(n_classes, activation="softmax", name="classes")(x)
    model = keras.Model(token_ids, probabilities, name=name)
    embedding.set_weights([np.asarray(matrix, dtype="float32")])
    return model


def transplant(trained: keras.Model, fresh: keras.Model) -> keras.Model:
    """Copy every layer's weights except the embedding from `trained` into `fresh`.

    `fresh` is the same architecture built over another vocabulary matrix; it keeps its own
    embedding. Returns `fresh`.
    """
    for layer in fresh.layers:
        if layer.name == EMBEDDING_LAYER or not layer.weights:
            continue
        layer.set_weights(trained.get_layer(layer.name).get_weights())
    return fresh


def set_embeddings_trainable(model: keras.Model, trainable: bool) -> None:
    model.get_layer(EMBEDDING_LAYER).trainable = trainable
