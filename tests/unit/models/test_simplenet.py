"""snippets/models/simplenet.py"""

import pytest
import torch

from snippets.models.simplenet import SimpleNet, count_parameters


def test_shapes_and_parameter_count() -> None:
    model = SimpleNet(input_size=10, output_size=2)
    assert model(torch.randn(5, 10)).shape == (5, 2)
    assert count_parameters(model) == 10 * 128 + 128 + 128 * 2 + 2
    assert [name for name, _ in model.named_children()] == ["fc1", "relu", "fc2"]


def test_forward_is_the_two_layer_formula() -> None:
    torch.manual_seed(0)
    model = SimpleNet(input_size=4, output_size=3, hidden_size=8)
    x = torch.randn(6, 4)
    w1, b1, w2, b2 = model.fc1.weight, model.fc1.bias, model.fc2.weight, model.fc2.bias
    expected = torch.relu(x @ w1.T + b1) @ w2.T + b2
    torch.testing.assert_close(model(x), expected)


def test_count_trainable_only() -> None:
    model = SimpleNet(input_size=10, output_size=2)
    model.fc1.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == 128 * 2 + 2


@pytest.mark.parametrize(
    "bad", [{"input_size": 0}, {"output_size": -1}, {"hidden_size": 0}]
)
def test_non_positive_sizes_are_refused(bad: dict) -> None:
    sizes = {"input_size": 10, "output_size": 2} | bad
    name, value = next(iter(bad.items()))
    with pytest.raises(ValueError, match=f"SimpleNet {name} must be >= 1, got {value}"):
        SimpleNet(**sizes)


def test_images_are_flattened_to_features() -> None:
    torch.manual_seed(0)
    model = SimpleNet(input_size=64, output_size=10, hidden_size=8)
    images = torch.randn(3, 1, 8, 8)
    torch.testing.assert_close(model(images), model(images.reshape(3, 64)))
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        model(torch.randn(3, 1, 4, 4))  # 16 features for a 64-feature layer
