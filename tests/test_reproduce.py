"""`repcam reproduce`, `repcam weights`, the paper preset and the new CLI options."""

from __future__ import annotations

import csv
import json
import re

import torch

from repcam_testing import tiny_config
from repcam_core.evaluation import paper_tables as pt
from repcam_core.cli import build_config, main, make_parser
from repcam_core.running.reproduce import reproduce


def test_paper_preset_is_wired_through_the_cli():
    c = build_config(make_parser().parse_args(["run", "--preset", "paper"]))
    t = c.train
    assert (c.image_size, t.batch_size, t.lr, t.plateau_factor, t.plateau_patience, t.epochs) == (224, 24, 1e-4, 0.5, 5, 200)
    assert c.similarity_backbone == "vgg19" and (c.n_clusters, c.min_cluster_size) == (4, 4)
    assert (t.binary_stop_accuracy, t.binary_max_epochs, t.binary_init, t.multiclass_init) == (0.95, 10, "imagenet", "imagenet")
    small = build_config(make_parser().parse_args(["run", "--preset", "paper", "--epochs", "1", "--backbone", "resnet18"]))
    assert small.train.epochs == 1 and small.backbone == "resnet18" and small.image_size == 224


def test_labels_xml_trains_on_the_main_trainval_split():
    parse = make_parser().parse_args
    assert build_config(parse(["run", "--labels", "xml"])).train_split == "main/trainval"
    assert build_config(parse(["run", "--labels", "xml", "--train-split", "train"])).train_split == "main/train"
    assert build_config(parse(["run", "--labels", "masks"])).train_split == "train"


def test_weights_command_lists_present_and_missing(tmp_path, monkeypatch, capsys):
    from repcam_core.models.backbones import BACKBONES, create_model
    from repcam_core.models.weights import weights_path

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = weights_path(BACKBONES.get("mobilenet_v2"))
    path.parent.mkdir(parents=True)
    torch.save(create_model("mobilenet_v2", 1000, seed=5).state_dict(), path)
    assert main(["weights", "--json"]) == 0
    rows = {r["backbone"]: r for r in json.loads(capsys.readouterr().out)["backbones"]}
    assert rows["mobilenet_v2"]["present"] and not rows["resnet50"]["present"]
    assert "ResNet50_Weights.IMAGENET1K_V1" in rows["resnet50"]["fetch"]
    assert main(["weights"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"mobilenet_v2 +present", text) and "get_model('vgg19'" in text
    model = create_model("mobilenet_v2", 3, init="imagenet")  # the file the listing found loads
    assert model.classifier[1].out_features == 3


def test_paper_tables_carry_the_published_figures():
    assert pt.TABLE2["S-1+A+F"]["resnet152"] == 34.66 and pt.TABLE2["Baseline"]["resnet101"] == 27.94
    assert pt.TABLE4["Rank-a+A+F"]["resnet18"] == 31.23 and pt.TABLE4["S-4+F"]["mobilenet_v2"] == 26.21
    assert pt.TABLE1["Baseline"]["avg"] == 27.24 and pt.TABLE1["Top2"]["bus"] == 59.23
    assert pt.TABLE5["Ours"][1]["COCO-val"] == 15.41 and not pt.TABLE3


def test_reproduce_table2_end_to_end_from_the_cli(tmp_path, capsys):
    from repcam_core.data.world import WorldConfig
    from repcam_core.data.world_files import generate_world

    world = generate_world(tmp_path / "voc", WorldConfig(n_families=3, classes_per_family=2, train_per_class=6,
                                                         val_per_class=2, width=40, height=32))
    out = tmp_path / "out"
    argv = ["reproduce", "table2", "--dataset", f"voc:{world}", "--backbone", "resnet18", "--image-size", "32",
            "--epochs", "1", "--binary-epochs", "1", "--batch-size", "16", "--clusters", "3",
            "--min-cluster-size", "2", "--device", "cpu", "--modes",
            "Baseline,S-1+F,S-1+A+F,Rank-a+F,Baseline+A,Contrast-S-1+A+F,Top9",
            "--cache", str(tmp_path / "cache"), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "Res-18" in text and "(19.65, " in text  # the paper's Res-18 Baseline (Table 4) beside ours
    rows = list(csv.reader((out / "table2_comparison.csv").open()))
    assert rows[0] == ["Method", "Res-18 ours", "Res-18 paper", "Res-18 diff"]
    by = {r[0]: r[1:] for r in rows[1:]}
    # the difference is of the two figures as shown, so the three cells agree to the last digit
    assert by["S-1+A+F"][1] == "29.55" and float(by["S-1+A+F"][2]) == round(float(by["S-1+A+F"][0]) - 29.55, 2)
    assert by["Top9"][0] == ""  # 9 of the 5 other classes: refused, n/a
    assert by["Rank-a+F"][0] != ""  # positions 3,9,14,17 do not exist among 6 classes: scaled
    data = json.loads((out / "table2.json").read_text())
    assert any("Top9: n/a (mode Top9: Top-9 picks" in n for n in data["notes"])
    assert "Res-18 Rank-a+F: positions 3, 9, 14, 17 of the paper's 19 others scaled to 1, 2, 4 of the 5 others here" \
        in data["notes"]
    assert data["computed_on"] and all(m["threads"] >= 1 and m["cpu"] for m in data["computed_on"])
    assert list(csv.reader((out / "table2.csv").open()))[0] == ["Method", "Res-18"]
    # every cell of ours under the three protocols, beside the paper's (fixed-threshold) figure
    protos = {r[0]: r[1:] for r in csv.reader((out / "table2_protocols.csv").open())}
    assert protos["Method"][:2] == ["Res-18 paper", "Res-18 fixed"] and "Res-18 auc hi" in protos["Method"]
    assert protos["S-1+A+F"][0] == "29.55" and protos["S-1+A+F"][1] == by["S-1+A+F"][0]
    assert protos["Contrast-S-1+A+F"][0] == "" and protos["Contrast-S-1+A+F"][1] != ""  # ours only
    lo, mid, hi = (float(protos["Baseline+A"][i]) for i in (2, 1, 3))
    assert lo <= mid <= hi
    assert data["protocols"]["S-1+A+F"]["Res-18"]["auc"]["miou"] is not None
    assert "ours under every protocol" in text


def test_reproduce_table1_and_table3_on_the_tiny_pipeline(tiny_cache, tmp_path):
    t1 = reproduce("table1", tiny_config(), cache=tiny_cache)
    assert t1.rows == ["Top1", "Top2", "Top3", "Top4", "All", "Baseline", "Ref-Whole", "Ref-Centre"]
    assert t1.columns[-1] == "avg" and t1.paper["Ref-Whole"] == {} and t1.ours["Ref-Centre"]["avg"] is not None
    # matched by class name: the world's bus, car, cat, ... get VOC's published per-class figures
    assert t1.paper["Baseline"]["avg"] == 27.24 and t1.paper["Baseline"].get("bus") == 44.69
    assert set(t1.paper["Baseline"]) <= set(t1.columns)
    assert t1.ours["Top1"]["avg"] is not None and "Grad-CAM" in t1.comparison_csv()
    paths = t1.write(tmp_path)
    assert (tmp_path / "table1.csv").read_text().startswith("class,") and len(paths) == 5
    assert t1.protocols["Top1"]["avg"]["fixed"]["miou"] == t1.ours["Top1"]["avg"]
    t3 = reproduce("table3", tiny_config(), cache=tiny_cache, backbones=["tinynet"], modes=["Baseline", "S-1+A+F"])
    assert t3.paper == {"Baseline": {"TinyNet": None}, "S-1+A+F": {"TinyNet": None}}
    assert "not in our text copy" in t3.notes[0] and t3.ours["Baseline"]["TinyNet"] is not None
