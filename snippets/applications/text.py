"""Text classification: template-generated intents and a bag-of-words EmbeddingBag.

The sentences are generated, not downloaded: each of four intents (weather, music,
alarm, translate) has a few templates whose slots are filled at random from word lists,
and polite fillers ("please", "hey", "tomorrow") are shared between intents so no single
frequent word gives the answer away.  A seeded ``random.Random`` makes the corpus the
same on every machine.

The model is ``snippets.models.bow.BagOfWords`` (fastText-style: the mean of the word
embeddings, then a linear layer); word order is ignored, which is enough for intents.
Training reuses the handbook's loop, ``snippets.train.train`` and ``evaluate``, on
``TensorDataset`` s of token ids served by ``snippets.data.make_loader``.

Run ``python -m snippets.applications.text`` (``--epochs`` to change the budget).
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field

import torch
from torch.utils.data import TensorDataset

from snippets.data import make_loader
from snippets.models.bow import BagOfWords
from snippets.train import TrainConfig, evaluate, train

# --8<-- [start:templates]
INTENTS = ("weather", "music", "alarm", "translate")
TEMPLATES = {
    "weather": [
        "will it {sky} in {city} {when}",
        "what is the weather in {city} {when}",
        "do i need an umbrella {when}",
        "how cold is it in {city}",
        "is it going to {sky} {when}",
    ],
    "music": [
        "play some {genre} music",
        "put on a {genre} song {when}",
        "i want to hear {genre}",
        "turn up the {genre} playlist",
        "play {genre} in the {room}",
    ],
    "alarm": [
        "wake me up at {clock} {when}",
        "set an alarm for {clock}",
        "set a timer for {minutes} minutes",
        "remind me at {clock} {when}",
        "cancel the alarm at {clock}",
    ],
    "translate": [
        "how do you say {word} in {language}",
        "translate {word} into {language}",
        "what is {word} in {language}",
        "say {word} in {language} {when}",
    ],
}
SLOTS = {
    "sky": ["rain", "snow", "be sunny", "be windy"],
    "city": ["paris", "beijing", "tokyo", "berlin", "shanghai", "lima"],
    "when": ["today", "tomorrow", "tonight", "this weekend", "now", "later"],
    "genre": ["jazz", "rock", "classical", "pop", "folk", "hip hop"],
    "room": ["kitchen", "bedroom", "car", "living room"],
    "clock": ["six", "seven thirty", "noon", "eight", "five fifteen"],
    "minutes": ["five", "ten", "twenty", "forty"],
    "word": ["hello", "thank you", "water", "friend", "good night", "music"],
    "language": ["french", "chinese", "spanish", "german", "japanese"],
}
POLITE = ["", "please", "hey", "hi", "excuse me"]  # shared by all intents
# --8<-- [end:templates]


# --8<-- [start:config]
@dataclass
class TextConfig:
    sentences_per_intent: int = 150  # generated sentences per intent
    max_len: int = 12  # tokens per sentence after padding / truncation
    dim: int = 16  # embedding size
    test_fraction: float = 0.25  # share of the sentences held out for testing
    batch_size: int = 32  # sentences per optimizer step
    seed: int = 0  # seeds the corpus; train.seed seeds the weights and the batch order
    train: TrainConfig = field(  # the training chapter's loop settings
        default_factory=lambda: TrainConfig(progress=False)
    )
    # --8<-- [end:config]


# --8<-- [start:corpus]
def generate_sentences(per_intent: int, seed: int = 0) -> tuple[list[str], list[int]]:
    """``per_intent`` distinct sentences for every intent, shuffled, and their labels.

    Sentences are distinct, so a test sentence never appears verbatim in training.

    Args:
        per_intent: sentences generated for each intent (at most a few hundred: the
            templates allow a limited number of distinct sentences).
        seed: seeds a private ``random.Random`` (the global RNG is left alone).
    """
    if not 1 <= per_intent <= 300:
        raise ValueError(f"per_intent must be in [1, 300], got {per_intent}")
    rng = random.Random(seed)
    pairs = []
    for label, intent in enumerate(INTENTS):
        seen: set[str] = set()
        while len(seen) < per_intent:
            template = rng.choice(TEMPLATES[intent])
            filled = template.format(**{k: rng.choice(v) for k, v in SLOTS.items()})
            sentence = f"{rng.choice(POLITE)} {filled}".strip()
            if sentence not in seen:
                seen.add(sentence)
                pairs.append((sentence, label))
    rng.shuffle(pairs)
    return [s for s, _ in pairs], [y for _, y in pairs]
    # --8<-- [end:corpus]


# --8<-- [start:vocab]
PAD, UNK = "<pad>", "<unk>"


def build_vocab(sentences: list[str]) -> dict[str, int]:
    """Word -> index, with ``<pad>`` = 0 and ``<unk>`` = 1, other words by first use."""
    vocab = {PAD: 0, UNK: 1}
    for sentence in sentences:
        for word in sentence.split():
            vocab.setdefault(word, len(vocab))
    return vocab


def encode(sentences: list[str], vocab: dict[str, int], max_len: int) -> torch.Tensor:
    """Token ids ``(N, max_len)``: unknown words -> ``<unk>``, padded with ``<pad>``.

    Args:
        sentences: text, split on whitespace after lower-casing.
        vocab: word -> index, with ``<pad>`` and ``<unk>``.
        max_len: longer sentences are truncated, shorter ones right-padded.
    """
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    rows = []
    for sentence in sentences:
        words = sentence.lower().split()[:max_len]
        ids = [vocab.get(word, vocab[UNK]) for word in words]
        rows.append(ids + [vocab[PAD]] * (max_len - len(ids)))
    return torch.tensor(rows, dtype=torch.long)  # (N, max_len)
    # --8<-- [end:vocab]


# --8<-- [start:train]
def train_text(
    cfg: TextConfig, device: torch.device | None = None
) -> tuple[BagOfWords, dict[str, int], list[dict[str, float]], float]:
    """Generate the corpus and train ``BagOfWords`` with ``snippets.train.train``.

    Args:
        cfg: corpus, model and batch sizes and the loop's ``TrainConfig``.
        device: where to train; default: the CPU.

    Returns:
        The model, the vocabulary, ``train``'s history (one dict per epoch) and the
        test accuracy.
    """
    device = device if device is not None else torch.device("cpu")
    sentences, labels = generate_sentences(cfg.sentences_per_intent, cfg.seed)
    n_test = int(len(sentences) * cfg.test_fraction)
    if not 0 < n_test < len(sentences):
        raise ValueError(f"test_fraction {cfg.test_fraction} leaves an empty split")
    vocab = build_vocab(sentences[n_test:])  # from the training split only
    ids = encode(sentences, vocab, cfg.max_len)  # (N, max_len)
    y = torch.tensor(labels)
    train_set = TensorDataset(ids[n_test:], y[n_test:])
    test_set = TensorDataset(ids[:n_test], y[:n_test])
    torch.manual_seed(cfg.train.seed)  # the initial weights
    model = BagOfWords(len(vocab), len(INTENTS), cfg.dim).to(device)
    loader = make_loader(train_set, cfg.batch_size, shuffle=True, seed=cfg.train.seed)
    history = train(model, loader, None, cfg.train, device)
    test = evaluate(model, make_loader(test_set, 256, shuffle=False), device)
    return model, vocab, history, test["accuracy"]
    # --8<-- [end:train]


def main(cfg: TextConfig) -> None:
    model, vocab, history, acc = train_text(cfg)
    first, last = history[0]["train_loss"], history[-1]["train_loss"]
    print(
        f"vocabulary {len(vocab)}; loss {first:.3f} -> {last:.3f}; "
        f"test accuracy {acc:.3f}"
    )
    queries = ["could you play some jazz", "will it snow in lima", "translate water"]
    model.eval()
    with torch.no_grad():
        predicted = model(encode(queries, vocab, cfg.max_len)).argmax(dim=1)
    for query, label in zip(queries, predicted.tolist()):
        print(f"{query!r} -> {INTENTS[label]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Classify generated intent sentences.")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(
        TextConfig(
            seed=args.seed,
            train=TrainConfig(epochs=args.epochs, seed=args.seed, progress=False),
        )
    )
