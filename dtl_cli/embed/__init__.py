"""Word embeddings: training word2vec and reading/writing vector files."""
