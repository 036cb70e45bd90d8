"""MkDocs hook: teach jieba the glossary's Chinese terms before the search index is
built.

Material's search plugin segments Chinese text with jieba's default dictionary, which
splits terms such as 反向传播 into 反向 / 传播; a reader typing 反向传播 would
then find nothing.  Every ``zh`` term of ``docs/glossary.yml`` is added as a word
(注意力, 多头注意力, 旋转位置编码 among them), so the index keeps the handbook's
terms whole.  A project without a glossary (the small projects the
tests build) adds no words.
"""

from __future__ import annotations

from pathlib import Path

import jieba
import yaml


def glossary_terms(path: Path) -> list[str]:
    """The Chinese terms listed in the glossary file (none if there is no such file)."""
    if not path.is_file():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [entry["zh"] for entry in data["terms"]]


def on_config(config):
    for term in glossary_terms(Path(config["docs_dir"]) / "glossary.yml"):
        jieba.add_word(term)
    return config
