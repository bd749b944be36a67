"""The pipeline on the tiny generated world: artifacts are built once, cached, and reused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from repcam_testing import tiny_config
from repcam_core.errors import ConfigError, DatasetError, UnknownNameError
from repcam_core.running.pipeline import Pipeline


def test_similarity_rows_sum_to_held_out_image_counts(tiny_pipeline):
    B = tiny_pipeline.similarity()
    h = tiny_pipeline.config.similarity_holdout
    counts = [len(tiny_pipeline.holdout_split(c, h)[1]) for c in range(tiny_pipeline.num_classes)]
    assert B.shape == (6, 6)
    # each held-out image contributes one unit of softmax mass to its class's row (eq. 2)
    np.testing.assert_allclose(B.sum(1), counts, rtol=1e-5)


def test_holdout_split_is_disjoint_and_covers_the_class(tiny_pipeline):
    for c in range(tiny_pipeline.num_classes):
        fit_idx, held = tiny_pipeline.holdout_split(c, 0.3)
        everything = set(tiny_pipeline.single_label(c).tolist())
        assert set(fit_idx.tolist()).isdisjoint(held.tolist())
        assert set(fit_idx.tolist()) | set(held.tolist()) == everything
        assert len(held) == max(1, round(0.3 * len(everything)))
    same, same2 = tiny_pipeline.holdout_split(0, 0.0)
    assert torch.equal(same, same2)


def test_second_pipeline_loads_models_from_cache(tiny_pipeline, tiny_cache, monkeypatch):
    tiny_pipeline.binary_model(0, 1)
    again = Pipeline(tiny_config(), cache=tiny_cache)
    import repcam_core.running.pipeline as mod

    monkeypatch.setattr(mod, "fit", lambda *a, **k: pytest.fail("retrained a cached model"))
    a = again.binary_model(1, 0)  # same unordered pair
    b = tiny_pipeline.binary_model(0, 1)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va.cpu(), vb.cpu())
    again.multiclass_model()
    again.similarity()


def test_model_artifact_stores_its_configuration(tiny_pipeline):
    tiny_pipeline.binary_model(2, 3)
    entry = tiny_pipeline.cache.entry("binary", tiny_pipeline.binary_key(2, 3))
    manifest = json.loads((entry / "manifest.json").read_text())
    assert manifest["key"]["pair"] == [2, 3]
    assert manifest["key"]["train"]["stop_accuracy"] == 0.95
    log = json.loads((entry / "train_log.json").read_text())
    assert 1 <= log["epochs"] <= 2
    assert log["stopped_early"] == (log["epochs"] < 2)
    if log["epochs"] < 2:  # the stopping rule: stop after the first epoch above 0.95
        assert log["accuracies"][-1] > 0.95


def test_binary_model_training_stops_at_accuracy(tiny_cache):
    p = Pipeline(tiny_config(train={"binary_max_epochs": 10, "binary_stop_accuracy": 0.5, "epochs": 3,
                                    "batch_size": 16}), cache=tiny_cache)
    p.binary_model(0, 4)
    log = json.loads((p.cache.entry("binary", p.binary_key(0, 4)) / "train_log.json").read_text())
    assert log["accuracies"][-1] > 0.5
    assert all(a <= 0.5 for a in log["accuracies"][:-1])


def test_clustering_respects_configuration(tiny_pipeline):
    res = tiny_pipeline.clustering(3, 2, 0)
    assert sorted(len(g) for g in res.clusters()) == [2, 2, 2]
    with pytest.raises(ConfigError, match="cannot make 4 clusters of at least 2"):
        tiny_pipeline.clustering(4, 2, 0)


def test_unknown_backbone_is_rejected_before_any_work(tiny_cache):
    with pytest.raises(UnknownNameError, match="unknown backbone 'resnet1'"):
        Pipeline(tiny_config(backbone="resnet1"), cache=tiny_cache)


def test_missing_dataset_directory(tmp_path):
    p = Pipeline(tiny_config(dataset=str(tmp_path / "nope")), cache=tmp_path / "c")
    with pytest.raises(DatasetError, match="nope"):
        p.class_names


def test_class_without_training_images(tmp_path, tiny_pipeline):
    """A VOC-layout copy of the world whose train split lacks every image of class 0."""
    import shutil

    src = tiny_pipeline.dataset.root
    dst = tmp_path / "voc"
    shutil.copytree(src, dst)
    keep = [i for i, lab in zip(tiny_pipeline.train_split.ids, tiny_pipeline.train_split.labels) if not lab[0]]
    (dst / "ImageSets/Segmentation/train.txt").write_text("\n".join(keep) + "\n")
    p = Pipeline(tiny_config(dataset=str(dst)), cache=tmp_path / "c")
    with pytest.raises(DatasetError, match=f"no single-label training images for class\\(es\\): {p.class_names[0]}"):
        p.multiclass_model()


def test_probe_head_starts_a_binary_model_that_already_separates_its_pair(tmp_path, tiny_pipeline):
    """Linear probing: the 2-way head fitted on the multi-class model's features separates the
    pair's training images before any fine-tuning (a zero head is at chance), and the binary
    model then trains as usual (the stopping rule unchanged)."""
    import copy

    import torch

    from repcam_core.models.backbones import get_module, replace_head
    from repcam_core.models.train import fit_probe, pooled_features, predict_proba

    p = tiny_pipeline
    ia, ib = p.single_label(0), p.single_label(3)
    images = p.train_split.images[torch.cat([ia, ib])]
    targets = torch.cat([torch.zeros(len(ia)), torch.ones(len(ib))]).long()
    model = replace_head(copy.deepcopy(p.multiclass_model()).cpu(), p.spec, 2, seed=0, zero=True)
    before = predict_proba(model, images, p.device).argmax(1)
    assert (before == targets).float().mean() <= 0.6  # zero head: every image gets the same answer
    head = get_module(model, p.spec.head)
    fit_probe(head, pooled_features(model, head, images, p.device), targets)
    after = (predict_proba(model, images, p.device).argmax(1) == targets).float().mean()
    assert after >= 0.9, after
    probed = Pipeline(p.config.with_(train={"binary_head": "probe"}), cache=p.cache)
    zeroed = Pipeline(p.config.with_(train={"binary_head": "zero"}), cache=p.cache)
    assert probed.binary_key(0, 3) != zeroed.binary_key(0, 3)  # its own cache entry
    from repcam_core.running.pipeline import train_log

    probed.binary_model(0, 3)
    log = train_log(probed.cache.entry("binary", probed.binary_key(0, 3)))
    assert 1 <= log["epochs"] <= p.config.train.binary_max_epochs


def test_probe_features_pass_each_class_through_the_body_once_and_equal_the_pairs_own(tmp_path, monkeypatch):
    """Every binary model starts from the multi-class body, so the probe's input for pair (a, b)
    is the concatenation of class a's and class b's features, computed once per class while the
    pipeline shares features: three pairs over three classes pass each class's images through the
    body once (not twice), and what the probe gets equals the pooled features of the pair's own
    images. Leaving the outermost ``sharing_features`` frees them; outside it a pair keeps nothing."""
    import copy

    import repcam_core.running.pipeline as mod
    from repcam_core.models.backbones import get_module, replace_head
    from repcam_core.models.train import pooled_features

    p = Pipeline(tiny_config(), cache=tmp_path / "cache")
    calls: list[int] = []
    real = mod.pooled_features

    def counting(model, head, images, device, batch_size=64):
        calls.append(len(images))
        return real(model, head, images, device, batch_size)

    monkeypatch.setattr(mod, "pooled_features", counting)
    with p.sharing_features():
        with p.sharing_features():  # nested (a pairwise table inside a run): the inner exit keeps them
            for a, b in ((0, 1), (0, 2)):
                p.binary_model(a, b)
        p.binary_model(1, 2)
        assert sorted(calls) == sorted(len(p.single_label(c)) for c in (0, 1, 2))
        model = replace_head(copy.deepcopy(p.multiclass_model()).cpu(), p.spec, 2, seed=0, zero=True)
        head = get_module(model, p.spec.head)
        shared = p._pair_features(model, head, 2, 0)
        assert len(calls) == 3  # served from what the three pairs computed
    own = pooled_features(model, head, p.train_split.images[torch.cat([p.single_label(2), p.single_label(0)])],
                          p.device)
    torch.testing.assert_close(shared, own, rtol=1e-4, atol=1e-5)
    assert p._probe_features is None  # freed with the outermost exit
    p._pair_features(model, head, 2, 0)
    p._pair_features(model, head, 2, 0)
    assert len(calls) == 3 + 4  # outside: each pair computes its two classes again, and nothing is kept
    assert p._probe_features is None


def test_a_pipeline_fingerprints_each_split_once_when_decoding(tmp_path, monkeypatch):
    """The decoded split's cache file is named by the split's fingerprint: the pipeline passes the
    one it computed for its keys, so decoding (and a later check of the decoded files) hashes
    no split again."""
    from repcam_core.data.voc import VOCDataset

    p = Pipeline(tiny_config(), cache=tmp_path / "cache")
    p.dataset  # noqa: B018 - opened (and the world generated) before counting
    seen: list[str] = []
    real = VOCDataset.fingerprint

    def counting(self, split):
        seen.append(split)
        return real(self, split)

    monkeypatch.setattr(VOCDataset, "fingerprint", counting)
    p.train_split, p.eval_split  # noqa: B018
    p.check_decoded()
    assert sorted(seen) == sorted({p.config.train_split, p.config.eval_split, *filter(None, [p.calibration_split_name])})


def test_tempered_b_reads_more_similarity_off_the_diagonal(tiny_pipeline):
    """B at T > 1 (softmax of logits / T) spreads each class's mass onto other classes, keeping
    the order of the logits: eq. 2 is T = 1."""
    from repcam_core.method.similarity import similarity_matrix
    from repcam_core.models.train import predict_proba

    p = tiny_pipeline
    idx = torch.cat([p.single_label(c) for c in range(p.num_classes)])
    labels = np.concatenate([np.full(len(p.single_label(c)), c) for c in range(p.num_classes)])
    model = p.multiclass_model()
    off = {}
    for t in (1.0, 3.0):
        B = similarity_matrix(predict_proba(model, p.train_split.images[idx], p.device, temperature=t).numpy(), labels)
        off[t] = (B.sum() - np.trace(B)) / B.sum()
    assert off[3.0] > off[1.0]
    warm = Pipeline(p.config.with_(similarity_holdout=0.0, similarity_temperature=3.0), cache=p.cache)
    assert warm.similarity_key()["temperature"] == 3.0 and warm.similarity_key()["model"] == warm.multiclass_key()


def test_holdout_scope_all_keeps_the_share_out_of_every_model(tiny_pipeline):
    p = Pipeline(tiny_pipeline.config.with_(similarity_holdout=0.3), cache=tiny_pipeline.cache)
    every = Pipeline(p.config.with_(holdout_scope="all"), cache=p.cache)
    # one multi-class model: the Baseline's is B's, and binary models start from it
    assert every.multiclass_key() == every.similarity_key()["model"] != p.multiclass_key()
    assert p.similarity_key()["model"] != p.multiclass_key()  # scope "similarity": two models
    assert every.binary_key(0, 1)["init_from"] == every.multiclass_key()
    assert every.binary_key(0, 1)["train"]["holdout"] == 0.3
    with pytest.raises(ConfigError, match="holdout scope must be one of"):
        tiny_config(holdout_scope="some")


def test_onecycle_schedule_trains_differently_from_plateau():
    from repcam_core.models.backbones import create_model
    from repcam_core.models.train import fit

    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (24, 3, 32, 32), generator=g, dtype=torch.uint8)
    targets = torch.arange(24) % 3
    weights = {}
    for schedule in ("plateau", "onecycle"):
        model = create_model("tinynet", 3, seed=0)
        log = fit(model, images, targets, lr=2e-3, epochs=2, batch_size=8, device=torch.device("cpu"),
                  schedule=schedule)
        assert log.epochs == 2 and all(np.isfinite(log.losses))
        weights[schedule] = model.fc.weight.detach().clone()
    assert not torch.allclose(weights["plateau"], weights["onecycle"])
    with pytest.raises(ConfigError, match="schedule must be one of"):
        tiny_config(train={"schedule": "cosine"})
