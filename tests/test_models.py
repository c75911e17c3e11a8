import pytest
import torch

from advkd.evaluate import count_flops, count_parameters
from advkd.models import build_model
from advkd.models.folding import FoldedTwin


def build(arch, shape=(3, 32, 32), **kw):
    channels = shape[0]
    return build_model({"arch": arch, **kw}, shape, 10, [0.5] * channels, [0.25] * channels)


@pytest.mark.parametrize("arch, millions", [("resnet18", 11.17), ("resnet50", 23.52)])
def test_standard_cifar_resnet_sizes(arch, millions):
    assert count_parameters(build(arch))["parameters"] / 1e6 == pytest.approx(millions, abs=0.01)


@pytest.mark.parametrize("arch", ["resnet18", "resnet34", "resnet50"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 13, 17)])
def test_resnets_take_any_channel_count_and_size(arch, shape):
    model = build(arch, shape, width=0.125).eval()
    assert model(torch.rand(2, *shape)).shape == (2, 10)


def test_resnet_refuses_inputs_smaller_than_8_pixels():
    with pytest.raises(ValueError, match="at least 8x8"):
        build("resnet18", (1, 7, 7))


def test_width_multiplier_scales_channels():
    narrow, full = build("resnet18", width=0.25), build("resnet18")
    assert narrow.stem[0].out_channels == 16 and full.stem[0].out_channels == 64


def test_table1_mlps_match_the_paper_sizes_and_flops():
    """Paper Table 1: 784-1200-1200-10 has 2,392,800 multiply-adds and weights; 784-400-10 has 317,600."""
    teacher = build("mlp", (1, 28, 28), hidden=[1200, 1200], dropout=0.5)
    student = build("mlp", (1, 28, 28), hidden=[400])
    assert count_flops(teacher, (1, 28, 28))["macs"] == 2_392_800
    assert count_parameters(teacher)["weights"] == 940_800 + 1_440_000 + 12_000
    assert count_flops(student, (1, 28, 28))["macs"] == 317_600
    assert count_parameters(student) == {"parameters": 318_010, "weights": 317_600}


def test_normalization_is_the_first_layer():
    model = build("mlp", (1, 2, 2), hidden=[3]).eval()
    x = torch.rand(4, 1, 2, 2)
    manual = model.layers(torch.flatten((x - 0.5) / 0.25, 1))
    assert torch.allclose(model(x), manual)


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
def test_folded_twin_computes_the_eval_model(arch):
    """Batch norms folded into their convolutions: same outputs, also after the weights move."""
    torch.manual_seed(0)
    model = build_model({"arch": arch, "width": 0.125}, (3, 16, 16), 10, [0.5] * 3, [0.25] * 3)
    folded = FoldedTwin(model)
    assert len(folded.folds) == sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    x = torch.rand(8, 3, 16, 16)
    for _ in range(2):
        model.train()
        model(torch.rand(16, 3, 16, 16) * 2)  # moves the running statistics away from 0 and 1
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.02)
            expected = model.eval()(x)
            scale = expected.abs().max()
            assert (folded.sync()(x) - expected).abs().max() <= 1e-5 * scale  # float rounding only


def test_folded_twin_of_the_wideresnet_folds_only_what_follows_a_convolution():
    """In a pre-activation block bn1 normalises the block's input and the final bn the last
    residual sum: neither follows a convolution, so only each block's bn2 folds (15 of 31)."""
    torch.manual_seed(0)
    model = build_model({"arch": "wrn34_10", "width": 0.1}, (3, 16, 16), 10, [0.5] * 3, [0.25] * 3)
    folded = FoldedTwin(model)
    assert len(folded.folds) == 15 and sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 31
    model.train()
    model(torch.rand(16, 3, 16, 16) * 2)  # running statistics away from 0 and 1
    x = torch.rand(8, 3, 16, 16)
    with torch.no_grad():
        expected = model.eval()(x)
        assert (folded.sync()(x) - expected).abs().max() <= 1e-5 * expected.abs().max()


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32), (1, 28, 28)])
def test_multi_exit_resnet_has_a_classifier_after_every_stage(arch, shape):
    model = build(arch, shape, width=0.125, exits=True).eval()
    x = torch.rand(2, *shape)
    exits = model.exits(x)
    width = model.stage_channels[-1]
    assert [tuple(z.shape) for z in exits.logits] == [(2, 10)] * 4
    assert [tuple(f.shape) for f in exits.features] == [(2, width)] * 4  # the hint compares like with like
    assert torch.equal(exits.logits[-1], model(x))  # forward is the deepest exit, the tested network
    assert torch.allclose(FoldedTwin(model).sync()(x), model(x), atol=1e-5)


def test_multi_exit_heads_add_parameters_but_not_test_time_flops():
    plain, multi = build("resnet18", width=0.25), build("resnet18", width=0.25, exits=True)
    assert count_parameters(multi)["parameters"] > count_parameters(plain)["parameters"]
    assert count_flops(multi, (3, 32, 32)) == count_flops(plain, (3, 32, 32))
