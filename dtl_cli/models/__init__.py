"""Keras text classifiers built over a given embedding matrix, and how they are trained."""
