"""``RunConfig.clustering`` feeds S-k: the pipeline clusters B with the chosen algorithm, caches each
algorithm apart, and the default keeps the cache keys of caches written before the choice existed."""

from __future__ import annotations

import numpy as np

from repcam_testing import tiny_config
from repcam_core.storage.cache import config_hash
from repcam_core.running.experiment import Experiment
from repcam_core.method.clusterers import cluster_classes
from repcam_core.method.modes import parse_mode
from repcam_core.method.selection import select_cluster
from repcam_core.running.pipeline import Pipeline


def test_default_clustering_key_is_the_key_caches_were_written_with(tiny_pipeline):
    p, cfg = tiny_pipeline, tiny_pipeline.config
    before = {"similarity": p.similarity_key(), "n": cfg.n_clusters, "min_size": cfg.min_cluster_size,
              "seed": cfg.seed, "restarts": cfg.cluster_restarts}  # the key as it was before --clustering
    assert config_hash(p.clustering_key(cfg.n_clusters, cfg.min_cluster_size, cfg.seed)) == config_hash(before)
    mode_key = Experiment(p).mode_key(parse_mode("S-1+A+F"))
    assert mode_key["clusters"] == [cfg.n_clusters, cfg.min_cluster_size]


def test_each_algorithm_has_its_own_cached_clustering(tiny_pipeline, tiny_cache):
    cfg = tiny_pipeline.config
    default = tiny_pipeline.clustering()
    keys = {}
    for name in ("spectral", "agglomerative"):
        p = Pipeline(tiny_config(clustering=name), cache=tiny_cache)
        res = p.clustering()
        expected = cluster_classes(name, p.similarity(), cfg.n_clusters, cfg.min_cluster_size, cfg.seed,
                                   cfg.cluster_restarts)
        assert np.array_equal(res.labels, expected.labels)
        keys[name] = p.clustering_key(cfg.n_clusters, cfg.min_cluster_size, cfg.seed)
        assert keys[name]["algorithm"] == name and p.cache.has("clustering", keys[name])
    assert len({config_hash(k) for k in keys.values()}) == 2
    # the default's cached result is untouched by the others
    assert np.array_equal(Pipeline(tiny_config(), cache=tiny_cache).clustering().labels, default.labels)


def test_only_cluster_modes_change_their_result_key_with_the_algorithm(tiny_pipeline, tiny_cache):
    spectral = Experiment(Pipeline(tiny_config(clustering="spectral"), cache=tiny_cache))
    default = Experiment(tiny_pipeline)
    for name, differs in (("S-1+A+F", True), ("S-2+F", True), ("Baseline", False), ("Random+A+F", False)):
        mode = parse_mode(name)
        assert (config_hash(spectral.mode_key(mode)) != config_hash(default.mode_key(mode))) is differs, name


def test_s_k_comparisons_follow_the_chosen_algorithm(tiny_pipeline, tiny_cache):
    p = Pipeline(tiny_config(clustering="agglomerative"), cache=tiny_cache)
    labels, B = p.clustering().labels, p.similarity()
    comps = Experiment(p).comparisons(parse_mode("S-1+A+F"))
    assert comps == {c: select_cluster(B, labels, c, 1) for c in range(p.num_classes)}
