import gzip
import json

import pytest

from dtl_cli.errors import DataError
from dtl_cli.text.readers import iter_lines, read_labelled


def test_csv_reads_text_and_label_as_strings(tmp_path):
    path = tmp_path / "en.csv"
    path.write_text('text,label,extra\n"Hello, world",1,x\nNA,0,y\n', encoding="utf-8")
    frame = read_labelled(path)
    assert list(frame.columns) == ["text", "label"]
    assert frame["text"].tolist() == ["Hello, world", "NA"]  # NA not turned into NaN
    assert frame["label"].tolist() == ["1", "0"]
    assert list(frame.index) == [0, 1]


def test_csv_custom_columns(tmp_path):
    path = tmp_path / "en.csv"
    path.write_text("body,y\ngood film,pos\n", encoding="utf-8")
    frame = read_labelled(path, text_column="body", label_column="y")
    assert frame.to_dict("records") == [{"text": "good film", "label": "pos"}]


def test_tsv_keeps_quotes_literally(tmp_path):
    path = tmp_path / "zh.tsv"
    path.write_text('text\tlabel\n"好" 电影\tpos\n差\tneg\n', encoding="utf-8")
    frame = read_labelled(path)
    assert frame["text"].tolist() == ['"好" 电影', "差"]
    assert frame["label"].tolist() == ["pos", "neg"]


def test_jsonl_skips_blank_lines_and_stringifies_labels(tmp_path):
    path = tmp_path / "data.jsonl"
    rows = [{"text": "a b", "label": 1}, {"text": "c", "label": "neg"}]
    path.write_text(json.dumps(rows[0]) + "\n\n" + json.dumps(rows[1]) + "\n", encoding="utf-8")
    frame = read_labelled(path)
    assert frame["text"].tolist() == ["a b", "c"]
    assert frame["label"].tolist() == ["1", "neg"]


def test_folder_per_label(tmp_path):
    root = tmp_path / "corpus"
    (root / "pos").mkdir(parents=True)
    (root / "neg").mkdir()
    (root / "pos" / "a.txt").write_text("great\nfilm", encoding="utf-8")
    (root / "pos" / "notes.md").write_text("ignored", encoding="utf-8")
    (root / "neg" / "b.txt").write_text("awful", encoding="utf-8")
    frame = read_labelled(root)
    assert frame.to_dict("records") == [
        {"text": "awful", "label": "neg"},
        {"text": "great\nfilm", "label": "pos"},
    ]


def test_explicit_format_overrides_suffix(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("text,label\nx,1\n", encoding="utf-8")
    assert read_labelled(path, fmt="csv")["text"].tolist() == ["x"]


def test_missing_path(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        read_labelled(tmp_path / "nope.csv")


def test_unknown_format_and_suffix(tmp_path):
    path = tmp_path / "data.xml"
    path.write_text("<x/>", encoding="utf-8")
    with pytest.raises(DataError, match=r"data\.xml: unknown format 'xml'; use one of"):
        read_labelled(path, fmt="xml")
    with pytest.raises(DataError, match=r"data\.xml: cannot tell the format from suffix '\.xml'"):
        read_labelled(path)


def test_missing_text_column_lists_columns(tmp_path):
    path = tmp_path / "en.csv"
    path.write_text("body,label\nx,1\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_labelled(path)
    assert str(err.value) == (f"{path}: no column 'text' (columns: body, label); set text_column")


def test_missing_label_column(tmp_path):
    path = tmp_path / "en.csv"
    path.write_text("text,y\nx,1\n", encoding="utf-8")
    expected = r"no column 'label' \(columns: text, y\); set label_column"
    with pytest.raises(DataError, match=expected):
        read_labelled(path)


def test_empty_label_names_csv_line(tmp_path):
    path = tmp_path / "en.csv"
    path.write_text("text,label\nok,1\nfine,\n,0\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_labelled(path)
    message = str(err.value)
    assert message.startswith(f"{path}: line 3 has an empty label (2 row(s)")
    assert "\n" not in message


def test_empty_text_names_jsonl_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "  ", "label": "y"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"d\.jsonl: line 2 has an empty text"):
        read_labelled(path)


def test_empty_corpus(tmp_path):
    header_only = tmp_path / "h.csv"
    header_only.write_text("text,label\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"h\.csv: no rows"):
        read_labelled(header_only)
    blank = tmp_path / "b.csv"
    blank.write_text("text,label\n ,1\n,2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"b\.csv: all 2 texts are blank"):
        read_labelled(blank)
    empty = tmp_path / "e.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match=r"e\.csv: empty file"):
        read_labelled(empty)


def test_malformed_csv_names_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,label\na,1\nb,2,3\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.csv: malformed CSV \(.*line 3.*\)") as err:
        read_labelled(path)
    assert "\n" not in str(err.value)


def test_non_utf8_csv_names_line_and_column(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"text,label\nok,1\ncaf\xe9,2\n")
    with pytest.raises(DataError, match=r"latin\.csv:3: not UTF-8 \(byte 0xe9 at column 4\)"):
        read_labelled(path)


def test_malformed_jsonl_names_line_and_column(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "b", label}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"d\.jsonl:2:\d+: invalid JSON"):
        read_labelled(path)


def test_jsonl_non_object_and_missing_field(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('["a", "b"]\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"d\.jsonl:1: expected a JSON object, got list"):
        read_labelled(path)
    path.write_text('{"text": "a", "label": 1}\n{"txt": "b", "label": 2}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"d\.jsonl:2: no field 'text' \(fields: txt, label\)"):
        read_labelled(path)


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no label sub-folders"):
        read_labelled(tmp_path)
    (tmp_path / "pos").mkdir()
    (tmp_path / "pos" / "a.txt").write_text("fine", encoding="utf-8")
    (tmp_path / "pos" / "b.txt").write_text("   ", encoding="utf-8")
    with pytest.raises(DataError, match=r"file .*b\.txt has an empty text"):
        read_labelled(tmp_path)


def test_iter_lines_plain_and_gz(tmp_path):
    plain = tmp_path / "corpus.txt"
    plain.write_text("\ufeffone doc\n\n  two doc  \n", encoding="utf-8")
    assert list(iter_lines(plain)) == ["one doc", "two doc"]
    packed = tmp_path / "corpus.txt.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as handle:
        handle.write("第一\n\n第二\n")
    lines = iter_lines(packed)
    assert next(lines) == "第一"  # streams: first line available before reading the rest
    assert list(lines) == ["第二"]


def test_iter_lines_errors(tmp_path):
    with pytest.raises(DataError, match=r"missing\.txt: no such file"):
        iter_lines(tmp_path / "missing.txt")  # raised at call time, not on first next()
    bad = tmp_path / "bad.txt.gz"
    with gzip.open(bad, "wb") as handle:
        handle.write(b"fine\nbad \xff byte\n")
    lines = iter_lines(bad)
    assert next(lines) == "fine"
    with pytest.raises(DataError, match=r"bad\.txt\.gz:2: not UTF-8 \(byte 0xff at column 5\)"):
        next(lines)


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("en_train.csv.gz", "text,label\ngood film,pos\nbad film,neg\n"),
        ("zh.tsv.gz", "text\tlabel\n好 电影\tpos\n差\tneg\n"),
        ("en.JSONL.GZ", '{"text": "good film", "label": "pos"}\n{"text": "bad", "label": "neg"}\n'),
    ],
)
def test_gzipped_formats_are_recognised_by_the_suffix_before_gz(tmp_path, name, body):
    path = tmp_path / name
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write(body)
    frame = read_labelled(path)
    assert frame["label"].tolist() == ["pos", "neg"]
    assert len(frame["text"][0]) > 1


@pytest.mark.parametrize("name", ["en.csv.gz", "en.jsonl.gz"])
def test_truncated_gzip_names_the_file(tmp_path, name):
    path = tmp_path / name
    if "csv" in name:
        text = "text,label\n" + "".join(f"document number {i},{i % 2}\n" for i in range(5000))
    else:
        text = "".join(json.dumps({"text": f"doc {i}", "label": i % 2}) + "\n" for i in range(5000))
    data = gzip.compress(text.encode())
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=rf"{name}: cannot read .*not truncated"):
        read_labelled(path, fmt="csv" if "csv" in name else "jsonl")


def test_gz_without_a_known_inner_suffix_says_which_suffixes_are_known(tmp_path):
    path = tmp_path / "en.txt.gz"
    path.write_bytes(gzip.compress(b"text,label\nx,1\n"))
    with pytest.raises(DataError, match=r"suffix '\.txt\.gz' \(known: \.csv, \.tsv"):
        read_labelled(path)


def test_tsv_read_as_csv_hints_at_the_format(tmp_path):
    path = tmp_path / "zh.csv"
    path.write_text("text\tlabel\n好\tpos\n", encoding="utf-8")
    with pytest.raises(
        DataError, match=r"columns: text\tlabel\); the header has tabs: set format=tsv"
    ):
        read_labelled(path)
    path.write_text("text,label,note\tx\n好,pos,a\n", encoding="utf-8")
    from dtl_cli.errors import DtlWarning

    with pytest.warns(DtlWarning, match=r"zh\.csv: read as CSV but its header has tabs"):
        assert read_labelled(path)["text"].tolist() == ["好"]
