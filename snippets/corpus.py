"""The handbook's own pages as a small text corpus, with a byte-level tokenizer.

Nothing is downloaded: the text is the Markdown under ``docs/en`` and ``docs/zh`` of
this repository.  The tokenizer is UTF-8 bytes (vocabulary 256, like the base alphabet
of GPT-2's byte-level BPE): it needs no training, never meets an unknown symbol, and
handles Chinese as three bytes per character, so one model reads both languages.

Run ``python -m snippets.corpus`` to print the size of each language's corpus.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

DOCS = Path(__file__).resolve().parent.parent / "docs"  # the repository's pages


# --8<-- [start:tokenizer]
class ByteTokenizer:
    """Text <-> UTF-8 byte ids in [0, 256).

    A Chinese character is 3 ids, an ASCII letter 1; decoding replaces a cut-off
    multi-byte character with U+FFFD instead of failing.
    """

    vocab_size = 256

    def encode(self, text: str) -> torch.Tensor:
        return torch.tensor(list(text.encode("utf-8")), dtype=torch.long)  # (N,)

    def decode(self, ids: torch.Tensor | list[int]) -> str:
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else ids
        return bytes(ids).decode("utf-8", errors="replace")
        # --8<-- [end:tokenizer]


# --8<-- [start:site_text]
def site_text(lang: str, docs: Path = DOCS) -> str:
    """All Markdown pages of one language, concatenated in file-name order.

    Args:
        lang: ``"en"`` or ``"zh"``: the folder under ``docs``.
        docs: the docs folder (default: this repository's).
    """
    folder = Path(docs) / lang
    pages = sorted(folder.glob("*.md"))
    if not pages:
        raise FileNotFoundError(
            f"no Markdown pages in {folder}; lang must be one of "
            f"{sorted(p.name for p in Path(docs).iterdir() if p.is_dir())}"
        )
    return "\n\n".join(p.read_text(encoding="utf-8") for p in pages)
    # --8<-- [end:site_text]


# --8<-- [start:split_and_batch]
def train_val_split(ids: torch.Tensor, val_fraction: float = 0.1):
    """The first ``1 - val_fraction`` of the ids for training, the rest held out.

    A contiguous tail (not random windows) keeps held-out text unseen in training.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n = int(len(ids) * (1.0 - val_fraction))
    return ids[:n], ids[n:]


def get_batch(
    ids: torch.Tensor, block_size: int, batch_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows of ``block_size`` tokens and the same windows shifted by one.

    Args:
        ids: ``(N,)`` token ids, ``N > block_size``.
        block_size: tokens per example T.
        batch_size: examples per batch B.
        generator: a seeded generator, so the batches are reproducible.
    """
    if len(ids) <= block_size:
        raise ValueError(f"need more than block_size={block_size} ids, got {len(ids)}")
    starts = torch.randint(len(ids) - block_size, (batch_size,), generator=generator)
    x = torch.stack([ids[s : s + block_size] for s in starts.tolist()])  # (B, T)
    # (B, T): the same windows shifted by one, so y[:, t] is the token after x[:, t]
    y = torch.stack([ids[s + 1 : s + 1 + block_size] for s in starts.tolist()])
    return x, y
    # --8<-- [end:split_and_batch]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="size of the site's text corpus")
    parser.add_argument("--docs", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    tok = ByteTokenizer()
    for lang in ("en", "zh"):
        text = site_text(lang, args.docs)
        print(f"{lang}: {len(text):,} characters, {len(tok.encode(text)):,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
