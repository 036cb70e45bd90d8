"""snippets/applications/images.py"""

import pytest
import torch

from snippets.applications.images import (DigitsCNN, DigitsConfig, load_digit_tensors,
                                          train_digits)


def test_digits_are_scaled_images_with_a_stratified_split() -> None:
    x_train, x_test, y_train, y_test = load_digit_tensors(test_fraction=0.25, seed=0)
    assert x_train.shape[1:] == (1, 8, 8) and x_test.shape[1:] == (1, 8, 8)
    assert len(x_train) + len(x_test) == 1797 and len(x_test) == 450
    assert x_train.min() == 0.0 and x_train.max() == 1.0  # pixels 0..16 divided by 16
    assert sorted(y_test.unique().tolist()) == list(range(10))
    again = load_digit_tensors(test_fraction=0.25, seed=0)
    torch.testing.assert_close(again[1], x_test, rtol=0, atol=0)


def test_cnn_shapes_and_parameter_count() -> None:
    model = DigitsCNN(channels=4)
    assert model(torch.zeros(5, 1, 8, 8)).shape == (5, 10)
    # conv1 1->4, conv2 4->8 (3x3 with bias), head 8*2*2 -> 10
    expected = (4 * 9 + 4) + (8 * 4 * 9 + 8) + (8 * 2 * 2 * 10 + 10)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_training_is_deterministic() -> None:
    cfg = DigitsConfig(epochs=1, channels=4)
    model_a, losses_a, acc_a = train_digits(cfg)
    model_b, losses_b, acc_b = train_digits(cfg)
    assert losses_a == losses_b and acc_a == acc_b
    torch.testing.assert_close(model_a.head.weight, model_b.head.weight, rtol=0, atol=0)


def test_a_small_budget_is_accurate() -> None:
    _, losses, acc = train_digits(DigitsConfig(epochs=4))
    assert losses[-1] < 0.3 * losses[0]
    assert acc > 0.9  # chance is 0.1; 4 epochs reach about 0.94, 10 about 0.98


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\), got 1.5"):
        load_digit_tensors(test_fraction=1.5)
    with pytest.raises(ValueError, match="num_classes >= 2, got 0 and 10"):
        DigitsCNN(channels=0)
