"""snippets/applications/text.py"""

import pytest

from snippets.applications.text import (
    INTENTS,
    TextConfig,
    build_vocab,
    encode,
    generate_sentences,
    train_text,
)
from snippets.train import TrainConfig


def test_corpus_is_deterministic_distinct_and_balanced() -> None:
    sentences, labels = generate_sentences(50, seed=3)
    assert (sentences, labels) == generate_sentences(50, seed=3)
    assert sentences != generate_sentences(50, seed=4)[0]
    assert len(set(sentences)) == len(sentences) == 200
    assert [labels.count(i) for i in range(len(INTENTS))] == [50] * 4


def test_vocab_and_encoding() -> None:
    vocab = build_vocab(["play jazz", "play rock now"])
    assert vocab == {"<pad>": 0, "<unk>": 1, "play": 2, "jazz": 3, "rock": 4, "now": 5}
    ids = encode(["Play disco jazz", "now play rock now now"], vocab, max_len=4)
    # unknown -> 1, pad -> 0, the second sentence truncated to 4 words
    assert ids.tolist() == [[2, 1, 3, 0], [5, 2, 4, 5]]


def test_training_is_deterministic_and_accurate() -> None:
    # a small corpus: 48 optimizer steps, so a short warmup and a larger peak lr
    loop = TrainConfig(epochs=6, warmup_steps=5, lr=0.05, progress=False)
    cfg = TextConfig(sentences_per_intent=80, train=loop)
    _, vocab_a, history_a, acc_a = train_text(cfg)
    _, vocab_b, history_b, acc_b = train_text(cfg)
    losses_a = [row["train_loss"] for row in history_a]
    losses_b = [row["train_loss"] for row in history_b]
    assert vocab_a == vocab_b and losses_a == losses_b and acc_a == acc_b
    assert losses_a[-1] < 0.3 * losses_a[0]
    assert acc_a > 0.9  # chance is 0.25


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="per_intent must be in \\[1, 300\\], got 0"):
        generate_sentences(0)
    with pytest.raises(ValueError, match="max_len must be >= 1, got 0"):
        encode(["hi"], {"<pad>": 0, "<unk>": 1}, max_len=0)
