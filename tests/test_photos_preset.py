"""The photos preset (EfficientNet-Lite0 from ImageNet on a CPU) and the training options it uses:
frozen BatchNorm statistics for binary models, probe features shared by ImageNet-initialised pairs."""

from __future__ import annotations

import torch

from repcam_core.cli import build_config, make_parser
from repcam_core.running.config import RunConfig, photos_config, preset_config
from repcam_core.running.pipeline import Pipeline
from repcam_testing import tiny_config


def test_photos_preset_keeps_the_papers_choices_that_fit_a_cpu():
    c = photos_config()
    t = c.train
    assert (c.backbone, c.image_size, c.preset) == ("efficientnet_lite0", 224, "photos")
    assert (t.multiclass_init, t.binary_init) == ("imagenet", "imagenet")
    assert (t.binary_lr, t.binary_max_epochs, t.binary_stop_accuracy, t.batch_size) == (1e-4, 10, 0.95, 24)
    assert RunConfig.from_dict(c.to_dict()) == c  # saved beside every artifact, rebuilt from it
    assert preset_config("photos") == c and preset_config("paper").preset == "paper"


def test_photos_preset_is_wired_through_the_cli():
    parse = make_parser().parse_args
    c = build_config(parse(["run", "--preset", "photos"]))
    assert c == photos_config()
    small = build_config(parse(["run", "--preset", "photos", "--image-size", "64", "--epochs", "1",
                                "--no-binary-frozen-bn"]))
    assert (small.image_size, small.train.epochs, small.backbone) == (64, 1, "efficientnet_lite0")
    assert not small.train.binary_frozen_batchnorm and small.train.binary_init == "imagenet"


def test_frozen_batchnorm_keeps_the_running_statistics_and_trains_the_rest():
    from repcam_core.models.backbones import create_model
    from repcam_core.models.train import fit

    images = torch.randint(0, 256, (12, 3, 32, 32), dtype=torch.uint8)
    targets = torch.arange(12) % 2
    for frozen in (True, False):
        model = create_model("tinynet", 2, seed=0)
        bn = model.layer2.bn1
        stats, scale = bn.running_mean.clone(), bn.weight.detach().clone()
        fit(model, images, targets, lr=1e-2, epochs=1, batch_size=6, device=torch.device("cpu"),
            frozen_batchnorm=frozen)
        assert torch.equal(bn.running_mean, stats) == frozen
        assert not torch.equal(bn.weight, scale)  # the affine part trains either way
        assert not model.training and not bn.training


def test_frozen_batchnorm_gets_its_own_binary_models_and_leaves_earlier_keys_alone(tmp_path):
    plain = Pipeline(tiny_config(), cache=tmp_path)
    frozen = Pipeline(tiny_config(train={"binary_frozen_batchnorm": True}), cache=tmp_path)
    assert "frozen_bn" not in plain.binary_key(0, 1)["train"]  # caches of earlier runs stay valid
    assert frozen.binary_key(0, 1)["train"]["frozen_bn"] is True
    assert frozen.multiclass_key() == plain.multiclass_key()  # the multi-class model is unaffected


def test_imagenet_initialised_pairs_pass_each_class_through_the_imagenet_body_once(tmp_path, monkeypatch):
    """Every ImageNet-initialised binary model starts from the same body, so the probe's features
    of a class are computed once within ``sharing_features`` (three pairs over three classes: three
    passes, not six) and equal
    those of the pair's own freshly built model."""
    import repcam_core.running.pipeline as mod
    from repcam_core.models.backbones import create_model, get_module
    from repcam_core.models.train import pooled_features

    config = tiny_config(backbone="efficientnet_lite0", train={"binary_init": "imagenet", "binary_max_epochs": 1})
    p = Pipeline(config, cache=tmp_path / "cache")
    calls: list[int] = []
    real = mod.pooled_features

    def counting(model, head, images, device, batch_size=64):
        calls.append(len(images))
        return real(model, head, images, device, batch_size)

    monkeypatch.setattr(mod, "pooled_features", counting)
    with p.sharing_features():  # as a run training several pairs holds it (Experiment.ensure_pairs)
        for a, b in ((0, 1), (0, 2), (1, 2)):
            p.binary_model(a, b)
    assert sorted(calls) == sorted(len(p.single_label(c)) for c in (0, 1, 2))
    own_model = create_model("efficientnet_lite0", 2, init="imagenet", seed=99)
    head = get_module(own_model, p.spec.head)
    own = pooled_features(own_model, head, p.train_split.images[torch.cat([p.single_label(2), p.single_label(1)])],
                          p.device)
    torch.testing.assert_close(p._pair_features(own_model, head, 2, 1), own, rtol=1e-4, atol=1e-5)
