"""snippets/corpus.py: byte tokenizer round trip, site text, batches."""

import pytest
import torch

from snippets.corpus import ByteTokenizer, get_batch, site_text, train_val_split


def test_round_trip_chinese_and_ascii() -> None:
    tok = ByteTokenizer()
    ids = tok.encode("微调 GPT")
    assert ids.tolist()[:3] == list("微".encode())
    assert len(ids) == 3 * 2 + 4
    assert tok.decode(ids) == "微调 GPT"
    assert tok.decode(ids[:2]) == "\ufffd"  # half a character: replaced, not an error


def test_site_text_reads_both_languages() -> None:
    en, zh = site_text("en"), site_text("zh")
    assert "{ #" in en and "{ #" in zh  # headings with explicit ids
    assert sum(ord(c) > 0x4E00 for c in zh) > 100  # Chinese characters
    with pytest.raises(FileNotFoundError, match="lang must be one of"):
        site_text("fr")


def test_split_and_batches() -> None:
    ids = torch.arange(100)
    train, val = train_val_split(ids, 0.2)
    assert len(train) == 80 and val[0] == 80
    x, y = get_batch(train, 8, 4, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 8)
    assert torch.equal(y, x + 1)  # targets are the next ids
    with pytest.raises(ValueError, match="val_fraction must be in"):
        train_val_split(ids, 1.0)
    with pytest.raises(ValueError, match="need more than block_size=8 ids, got 5"):
        get_batch(ids[:5], 8, 1, torch.Generator())
