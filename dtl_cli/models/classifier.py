"""Text classifiers over a fixed vocabulary matrix, and carrying one into another vocabulary.

Inputs are token ids [batch, length] (int32, 0 = padding; any length); outputs class
probabilities [batch, n_classes]. Layers are named by role so fine-tuning strategies and
`transplant` can find them: "embedding", then "encoder_*" layers, an optional
"encoded_norm" batch normalisation, then the head: "hidden_*", "dropout_*", "classes".
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import layers

MODELS = ("dan", "cnn", "bilstm")
EMBEDDING_LAYER = "embedding"
NORM_LAYER = "encoded_norm"


@dataclass(frozen=True)
class Architecture:
    """What to build; sizes are in units (dense, LSTM) or filters (CNN)."""

    name: str = "dan"
    hidden: tuple[int, ...] = (64,)
    dropout: float = 0.2
    filters: int = 64  # cnn: filters per width
    kernel_sizes: tuple[int, ...] = (2, 3, 4)  # cnn: convolution widths in tokens
    lstm_units: int = 64  # bilstm: units per direction
    normalize_encoding: bool = False  # batch-normalise the document vector (for AdaBN)


def _encode(arch: Architecture, x):
    """The encoder: token vectors [batch, length, dim] -> document vector [batch, features]."""
    if arch.name == "dan":
        # Deep averaging network (Iyyer et al., 2015): mean over non-padding positions.
        return layers.GlobalAveragePooling1D(name="encoder_average")(x)
    if arch.name == "cnn":
        # Kim (2014): convolutions of several widths, each max-pooled over time.
        pooled = [
            layers.GlobalMaxPooling1D(name=f"encoder_pool_{width}")(
                layers.Conv1D(
                    arch.filters,
                    width,
                    padding="same",
                    activation="relu",
                    name=f"encoder_conv_{width}",
                )(x)
            )
            for width in arch.kernel_sizes
        ]
        return pooled[0] if len(pooled) == 1 else layers.Concatenate(name="encoder_concat")(pooled)
    if arch.name == "bilstm":
        states = layers.Bidirectional(
            layers.LSTM(arch.lstm_units, return_sequences=True), name="encoder_bilstm"
        )(x)
        return layers.GlobalAveragePooling1D(name="encoder_average")(states)
    raise ValueError(f"unknown model {arch.name!r}; choose one of {', '.join(MODELS)}")


def build_classifier(
    arch: Architecture,
    matrix: np.ndarray,
    n_classes: int,
    *,
    trainable_embeddings: bool = False,
    name: str | None = None,
) -> keras.Model:
    """A classifier whose embedding layer holds `matrix` [vocab_size, dim] (row 0 = padding)."""
    if arch.name not in MODELS:
        raise ValueError(f"unknown model {arch.name!r}; choose one of {', '.join(MODELS)}")
    vocab_size, dim = matrix.shape
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    embedding = layers.Embedding(
        vocab_size, dim, mask_zero=True, trainable=trainable_embeddings, name=EMBEDDING_LAYER
    )
    x = _encode(arch, embedding(token_ids))
    if arch.normalize_encoding:
        x = layers.BatchNormalization(name=NORM_LAYER)(x)
    for i, units in enumerate(arch.hidden):
        x = layers.Dense(units, activation="relu", name=f"hidden_{i}")(x)
        x = layers.Dropout(arch.dropout, name=f"dropout_{i}")(x)
    # float32 output even under a mixed-precision policy, for a stable softmax and loss.
    probabilities = layers.Dense(n_classes, activation="softmax", dtype="float32", name="classes")(
        x
    )
    model = keras.Model(token_ids, probabilities, name=name or arch.name)
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


def layer_groups(model: keras.Model) -> dict[str, list[keras.layers.Layer]]:
    """Layers with weights by role: "embedding", "encoder" (incl. the norm) and "head"."""
    groups: dict[str, list] = {"embedding": [], "encoder": [], "head": []}
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name == EMBEDDING_LAYER:
            groups["embedding"].append(layer)
        elif layer.name.startswith("encoder_") or layer.name == NORM_LAYER:
            groups["encoder"].append(layer)
        else:
            groups["head"].append(layer)
    return groups


def set_trainable(model: keras.Model, groups: set[str]) -> None:
    """Make exactly the layers of the named groups trainable (compile again afterwards)."""
    for group, members in layer_groups(model).items():
        for layer in members:
            layer.trainable = group in groups


def adapt_normalization(model: keras.Model, ids: np.ndarray, batch_size: int = 256) -> bool:
    """AdaBN (Li et al., 2016): re-estimate the encoding's batch-norm statistics on `ids`
    [n, length] of the new domain, labels unused. Returns False if the model has no norm."""
    names = {layer.name for layer in model.layers}
    if NORM_LAYER not in names:
        return False
    norm = model.get_layer(NORM_LAYER)
    encoder = keras.Model(model.input, norm.input)
    features = np.concatenate(
        [
            np.asarray(encoder(ids[start : start + batch_size], training=False))
            for start in range(0, len(ids), batch_size)
        ]
    )
    gamma, beta, _, _ = norm.get_weights()
    norm.set_weights([gamma, beta, features.mean(axis=0), features.var(axis=0)])
    return True


def shift_priors(model: keras.Model, old: np.ndarray, new: np.ndarray) -> None:
    """Re-aim the softmax from class priors `old` [c] to `new` [c] in place: adding
    log(new / old) to the output layer's bias multiplies every output by new / old before
    the softmax renormalises (label_shift.adjust_priors, built into the model)."""
    layer = model.get_layer("classes")
    kernel, bias = layer.get_weights()
    shift = np.log(np.asarray(new, dtype=np.float64) / np.asarray(old, dtype=np.float64))
    layer.set_weights([kernel, (bias + shift).astype(bias.dtype)])


def divide_logits(model: keras.Model, temperature: float) -> None:
    """Temperature scaling built into the model in place: the output layer's kernel and bias
    divided by `temperature` (label_shift.with_temperature on its outputs)."""
    layer = model.get_layer("classes")
    kernel, bias = layer.get_weights()
    scaled = [(w / temperature).astype(w.dtype) for w in (kernel, bias)]
    layer.set_weights(scaled)


def set_head_weights(model: keras.Model, dense: list[list[np.ndarray]]) -> None:
    """Load [kernel, bias] pairs, in order, into the head's "hidden_*" layers and "classes"
    (e.g. a head trained elsewhere on the encoder's output)."""
    names = [layer.name for layer in model.layers if layer.name.startswith("hidden_")]
    names.append("classes")
    if len(names) != len(dense):
        raise ValueError(f"{len(dense)} weight pairs for the {len(names)} head layers {names}")
    for name, weights in zip(names, dense, strict=True):
        model.get_layer(name).set_weights(weights)


def weighted_ensemble(first: keras.Model, second: keras.Model, weight: float) -> keras.Model:
    """One model over the same token ids: weight * first(ids) + (1 - weight) * second(ids).

    The two must have different names (build_classifier's `name`); the result saves and loads
    like any classifier (built-in layers only)."""
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    a = layers.Rescaling(float(weight), name="weight_transfer")(first(token_ids))
    b = layers.Rescaling(1.0 - float(weight), name="weight_target")(second(token_ids))
    return keras.Model(token_ids, layers.Add(name="mixed")([a, b]), name="ensemble")
