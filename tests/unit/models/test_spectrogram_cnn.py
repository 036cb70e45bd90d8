"""snippets/models/spectrogram_cnn.py"""

import pytest
import torch

from snippets.models.spectrogram_cnn import SpectrogramCNN


def test_model_shapes() -> None:
    model = SpectrogramCNN(freq_bins=33, frames=17, num_classes=4, channels=2)
    assert model(torch.zeros(3, 1, 33, 17)).shape == (3, 4)
    assert model.head.in_features == 4 * 8 * 4


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 4x4, got 3x17"):
        SpectrogramCNN(freq_bins=3, frames=17, num_classes=4)
    with pytest.raises(ValueError, match="channels >= 1 and num_classes >= 2, got 0"):
        SpectrogramCNN(freq_bins=33, frames=17, num_classes=4, channels=0)
