"""Reading a run's store entries for `dtl predict` / `dtl export` (imports TensorFlow)."""

from __future__ import annotations

from pathlib import Path

from dtl_cli.embed.io import write_vec
from dtl_cli.errors import DataError
from dtl_cli.exported import TextClassifier
from dtl_cli.runs import Run
from dtl_cli.stages import entries
from dtl_cli.store import Store

DICTIONARY_FILE = "dictionary.txt"


def read_classifier(run: Run, k, repeat: int) -> TextClassifier:
    """The fine-tuned model of (k, repeat) with the target tokenizer and vocabulary."""
    store = Store(run.cfg.paths.store)
    if not store.has("finetune", entries.finetune_key(run.cfg, k, repeat)):
        _say_older(run, store, k, repeat)
    trained = entries.read_trained(run.cfg, store, "finetune", k, repeat)
    return TextClassifier(
        model=trained.model,
        words=trained.space.words,
        classes=trained.classes,
        tokenizer=str(trained.tokenizer),
        lowercase=bool(trained.lowercase),
        max_len=int(trained.max_len),
        about={"run": str(run.folder.resolve()), "k": k, "repeat": repeat},
    )


def _say_older(run: Run, store: Store, k, repeat: int) -> None:
    """The run's model entry is not the one today's dtl would read: say why, when its record
    shows an entry of an older format (today's key differs from the one the run used)."""
    used = run.record.get("stages", {}).get("finetune", {}).get("entries", {})
    key = (used.get(f"finetune[{k},{repeat}]") or {}).get("key")
    if key:
        version = entries.VERSIONS["finetune"]
        where = "is still in the store" if store.path("finetune", key).is_dir() else "is gone"
        raise DataError(
            f"{run.folder}: its model (store entry finetune/{key}, which {where}) was made by "
            f"an older dtl; today's finetune entries (version {version}) differ: run the same "
            "`dtl run` again to rebuild it, then predict from the new run folder"
        )


def export_spaces(run: Run, out: Path) -> list[str]:
    """vectors-<src>.txt (source mapped: W x + b), vectors-<tgt>.txt and dictionary.txt."""
    from dtl_cli.align.mappings import apply_map

    cfg, store = run.cfg, Store(run.cfg.paths.store)
    source = entries.read_space(cfg, store, "source")
    target = entries.read_space(cfg, store, "target")
    fitted = entries.read_map(cfg, store)
    src_lang, tgt_lang = str(cfg.dataset.source.lang), str(cfg.dataset.target.lang)
    files = [f"vectors-{src_lang}.txt", f"vectors-{tgt_lang}.txt", DICTIONARY_FILE]
    write_vec(out / files[0], source.words, apply_map(source.vectors, fitted.W, fitted.b))
    write_vec(out / files[1], target.words, target.vectors)
    pairs = entries.read_induced_dictionary(cfg, store)
    (out / DICTIONARY_FILE).write_text("".join(f"{s} {t}\n" for s, t in pairs), encoding="utf-8")
    return files
