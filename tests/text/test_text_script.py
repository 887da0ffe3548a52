"""Chinese script detection and dictionary conversion (OpenCC)."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from dtl_cli.stages.map import seed_index_pairs
from dtl_cli.text.script import choose_conversion, convert, convert_dictionary, script_shares

SIMPLIFIED_VOCAB = ["学习", "电脑", "好吃", "外卖", "送餐", "味道", "的", "很", "没有", "说"]
TRADITIONAL_DICT = [("learn", "學習"), ("computer", "電腦"), ("delicious", "好吃"),
                    ("taste", "味道"), ("say", "說"), ("nothing", "沒有")]  # fmt: skip


def test_convert_both_ways_and_leaves_latin_words_alone():
    assert convert(["學習", "電腦", "ok", "3"], "t2s") == ["学习", "电脑", "ok", "3"]
    assert convert(["学习", "电脑"], "s2t") == ["學習", "電腦"]
    assert convert(["學習"], "none") == ["學習"]
    with pytest.raises(ValueError, match="unknown conversion"):
        convert(["x"], "t2tw")


def test_script_shares_tell_the_scripts_apart():
    simplified = script_shares(SIMPLIFIED_VOCAB + ["movie", "42"])
    assert simplified.n == len(SIMPLIFIED_VOCAB)  # words without Chinese characters not counted
    assert simplified.script == "simplified" and simplified.traditional == 0
    traditional = script_shares([t for _, t in TRADITIONAL_DICT])
    assert traditional.script == "traditional"
    assert traditional.traditional == pytest.approx(4 / 6)  # 好吃, 味道 are the same in both
    assert script_shares(["味道", "送餐", "很"]).script is None  # the same in both scripts
    assert script_shares(["movie"]).script is None
    assert choose_conversion("traditional", "simplified") == "t2s"
    assert choose_conversion("simplified", "traditional") == "s2t"
    assert choose_conversion("simplified", "simplified") == "none"
    assert choose_conversion(None, "simplified") == "none"


def test_traditional_dictionary_is_converted_onto_a_simplified_vocabulary():
    pairs, report = convert_dictionary(TRADITIONAL_DICT, 1, SIMPLIFIED_VOCAB, "auto")
    assert report.conversion == "t2s" and report.changed == 4
    assert [t for _, t in pairs] == ["学习", "电脑", "好吃", "味道", "说", "没有"]
    assert [s for s, _ in pairs] == [s for s, _ in TRADITIONAL_DICT]
    assert report.mismatch() is None
    assert "Traditional -> Simplified (t2s), 4 pairs converted" in report.describe()


def test_simplified_dictionary_is_left_alone():
    simplified = [(s, convert([t], "t2s")[0]) for s, t in TRADITIONAL_DICT]
    pairs, report = convert_dictionary(simplified, 1, SIMPLIFIED_VOCAB, "auto")
    assert pairs == simplified and report.conversion == "none" and report.changed == 0
    assert "both in Simplified script" in report.explain_drops()


def test_script_none_keeps_traditional_and_names_both_scripts():
    pairs, report = convert_dictionary(TRADITIONAL_DICT, 1, SIMPLIFIED_VOCAB, "none")
    assert pairs == TRADITIONAL_DICT
    assert "Traditional script and the corpus in Simplified" in report.mismatch()
    assert "dataset.dictionary.script=auto" in report.explain_drops()


def _cfg(tmp_path, script: str):
    path = tmp_path / "seed.txt"
    path.write_text("".join(f"{s} {t}\n" for s, t in TRADITIONAL_DICT), encoding="utf-8")
    return OmegaConf.create(
        {
            "dataset": {
                "source": {"lang": "en"},
                "target": {"lang": "zh"},
                "dictionary": {"seed": str(path), "test": str(path), "script": script},
            },
            "mapping": {"seed": "dictionary", "seed_pairs": None},
        }
    )


def test_seed_pairs_meet_the_vocabulary_after_conversion(tmp_path, capsys):
    src = [s for s, _ in TRADITIONAL_DICT]
    pairs, info = seed_index_pairs(_cfg(tmp_path, "auto"), src, SIMPLIFIED_VOCAB)
    assert info["seed_pairs_used"] == 6 and info["seed_pairs_dropped"] == 0
    assert info["dictionary_script"] == {"conversion": "t2s", "converted": 4}
    assert pairs[:, 1].tolist() == [SIMPLIFIED_VOCAB.index(w) for w in
                                    ["学习", "电脑", "好吃", "味道", "说", "没有"]]  # fmt: skip
    pairs, info = seed_index_pairs(_cfg(tmp_path, "none"), src, SIMPLIFIED_VOCAB)
    assert info["seed_pairs_used"] == 2 and info["seed_pairs_dropped"] == 4
    out = capsys.readouterr().out
    assert "most seed pairs dropped" in out and "in Traditional script" in out
