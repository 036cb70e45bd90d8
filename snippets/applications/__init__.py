"""Three small end-to-end applications: images, text and audio.

Each module generates or loads its data without a download, defines a small model and
trains it on the CPU in seconds with the shared loop in ``loop.py``:

* ``images``: scikit-learn's bundled 8x8 digits and a small convolutional network;
* ``text``: template-generated intent sentences and a bag-of-words ``nn.EmbeddingBag``;
* ``audio``: generated sine / square / chirp / noise clips, ``torch.stft`` features and
  a small convolutional network on the log spectrogram.

Run ``python -m snippets.applications.images`` (or ``text``, ``audio``) to train one.
"""
