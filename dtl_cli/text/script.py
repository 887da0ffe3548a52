"""Chinese script (Simplified / Traditional): detect it in a word list and convert words
between the two with OpenCC, so a dictionary meets a corpus written in the other script.

MUSE's en-zh dictionaries are Traditional; most Chinese corpora are Simplified.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from dtl_cli.errors import DataError

SCRIPTS = ("auto", "t2s", "s2t", "none")
NAMES = {"simplified": "Simplified", "traditional": "Traditional"}
# A script is named only when it wins by this factor over the other one: word lists in a
# single script change under one conversion and (almost) never under the other.
_MARGIN = 2.0


@functools.cache
def _converter(conversion: str):
    try:
        import opencc  # a few ms; only map needs it
    except ImportError:
        raise DataError(
            "the opencc package is missing (pip install opencc, or make install); or set "
            "dataset.dictionary.script=none to use the dictionaries as written"
        ) from None
    return opencc.OpenCC(f"{conversion}.json")


def convert(words: Sequence[str], conversion: str) -> list[str]:
    """Each word converted by OpenCC ``conversion`` ("t2s" or "s2t"); "none" returns them as
    they are. Words without Chinese characters come back unchanged."""
    words = list(words)
    if conversion == "none" or not words:
        return words
    if conversion not in ("t2s", "s2t"):
        raise ValueError(f"unknown conversion {conversion!r}; expected t2s, s2t or none")
    # One call for all words (OpenCC matches phrases, never across a line break).
    out = _converter(conversion).convert("\n".join(words)).split("\n")
    if len(out) != len(words):  # a word holding a line break; never from split()
        return [_converter(conversion).convert(w) for w in words]
    return out


def _has_han(word: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in word)


@dataclass
class ScriptShares:
    """Among `n` words with Chinese characters: the share that t2s changes (they hold
    Traditional-only characters) and the share that s2t changes (Simplified-only)."""

    n: int
    traditional: float
    simplified: float

    @property
    def script(self) -> str | None:
        """The script, "traditional" or "simplified"; None when neither clearly dominates."""
        if self.n == 0 or max(self.traditional, self.simplified) == 0:
            return None
        if self.traditional >= _MARGIN * self.simplified:
            return "traditional"
        if self.simplified >= _MARGIN * self.traditional:
            return "simplified"
        return None


def script_shares(words: Sequence[str]) -> ScriptShares:
    """How the words with Chinese characters in ``words`` change under t2s and under s2t."""
    han = [w for w in words if _has_han(w)]
    if not han:
        return ScriptShares(0, 0.0, 0.0)
    to_s, to_t = convert(han, "t2s"), convert(han, "s2t")
    n = len(han)
    return ScriptShares(
        n,
        sum(a != b for a, b in zip(han, to_s, strict=True)) / n,
        sum(a != b for a, b in zip(han, to_t, strict=True)) / n,
    )


def choose_conversion(have: str | None, want: str | None) -> str:
    """The conversion ("t2s", "s2t" or "none") from script ``have`` to script ``want``
    ("simplified", "traditional" or None for unclear); "none" when they agree or either
    is unclear."""
    if have == "traditional" and want == "simplified":
        return "t2s"
    if have == "simplified" and want == "traditional":
        return "s2t"
    return "none"


@dataclass
class DictionaryScript:
    """What became of one side of a dictionary: the conversion applied, how many pairs it
    changed, and the scripts (None: unclear) of that side after conversion and of the
    vocabulary it has to meet."""

    conversion: str
    changed: int
    dictionary_script: str | None
    vocabulary_script: str | None

    def describe(self) -> str:
        """One phrase for the log, e.g. "Traditional -> Simplified (t2s), 5106 pairs
        converted"."""
        if self.conversion == "none":
            return f"script {_name(self.dictionary_script)}, not converted"
        start = "traditional" if self.conversion == "t2s" else "simplified"
        return (
            f"{_name(start)} -> {_name(self.dictionary_script)} ({self.conversion}), "
            f"{self.changed} pairs converted"
        )

    def mismatch(self) -> str | None:
        """A hint naming both scripts when they differ after conversion, else None."""
        have, want = self.dictionary_script, self.vocabulary_script
        if have and want and have != want:
            fix = "t2s" if have == "traditional" else "s2t"
            return (
                f"its Chinese side is in {_name(have)} script and the corpus in {_name(want)}; "
                f"set dataset.dictionary.script=auto (or {fix})"
            )
        return None

    def explain_drops(self) -> str:
        """Why pairs were dropped, naming the scripts."""
        hint = self.mismatch()
        if hint:
            return hint
        if self.dictionary_script and self.dictionary_script == self.vocabulary_script:
            return (
                f"the dictionary and the corpus are both in {_name(self.dictionary_script)} "
                "script, so the missing words are ones the corpus lacks or has fewer than "
                "embedding.min_count times"
            )
        return "the scripts of the dictionary's Chinese side and of the corpus are unclear"


def _name(script: str | None) -> str:
    return NAMES.get(script or "", "unclear")


def convert_dictionary(
    pairs: Sequence[tuple[str, str]], side: int, vocabulary: Sequence[str], script: str
) -> tuple[list[tuple[str, str]], DictionaryScript]:
    """Convert word ``side`` (0 or 1) of every (source, target) pair by ``script`` (auto |
    t2s | s2t | none; auto picks the conversion into the script of ``vocabulary``)."""
    if script not in SCRIPTS:
        raise ValueError(f"unknown script {script!r}; expected one of {SCRIPTS}")
    words = [pair[side] for pair in pairs]
    have, want = script_shares(words).script, script_shares(vocabulary).script
    conversion = choose_conversion(have, want) if script == "auto" else script
    converted = convert(words, conversion)
    changed = sum(a != b for a, b in zip(words, converted, strict=True))
    out = [(w, p[1]) if side == 0 else (p[0], w) for p, w in zip(pairs, converted, strict=True)]
    after = have if conversion == "none" else script_shares(converted).script
    report = DictionaryScript(conversion, changed, after, want)
    return out, report
