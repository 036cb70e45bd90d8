"""Three small end-to-end applications: images, text and audio.

Each module generates or loads its data without a download, defines (or reuses) a small
model and trains it on the CPU in seconds with the handbook's one training loop,
``snippets.train.train`` and ``evaluate``, fed by ``snippets.data.make_loader``:

* ``images``: the handbook's digits split (``snippets.data.digits_datasets``) and its
  ``DigitsCNN`` (``snippets.models.cnn``), plus predictions and the mistakes it makes;
* ``text``: template-generated intent sentences and a bag-of-words ``nn.EmbeddingBag``;
* ``audio``: generated sine / square / chirp / noise clips, ``torch.stft`` features and
  a small convolutional network on the log spectrogram.

Run ``python -m snippets.applications.images`` (or ``text``, ``audio``) to train one.
"""
