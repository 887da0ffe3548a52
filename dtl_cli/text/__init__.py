"""Text input: labelled-corpus readers, tokenizers and vocabulary encoding."""
