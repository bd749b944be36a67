"""What a paper figure shows, gathered once: the images of one class, each with the per-layer maps
of the Baseline and of every representative class's binary model (:class:`FigureData`).

:func:`collect` builds it through the cached :class:`Pipeline` for the CLI and the Results page
(training what is missing, with progress); :func:`from_explanation` wraps the explorer's current
image. Drawing (:mod:`repcam_core.figures.paper`) never calls a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from repcam_core.running import explore
from repcam_core.errors import ConfigError
from repcam_core.running.pipeline import Pipeline

from repcam_core.figures import DEFAULT_IMAGES, DEFAULT_MODES  # noqa: E402,F401  (re-exported)


@dataclass(frozen=True)
class Fusion:
    """A fused map: its column title, the comparison classes it averages, "+A", and whether their
    maps come from binary models or from the multi-class model's contrasts (Contrast-* modes)."""

    label: str
    classes: tuple[int, ...]
    multilayer: bool = True
    source: str = "binary"


@dataclass
class FigureData:
    """Everything a paper figure shows; no model is called after this exists.

    ``images``: one explanation per row, all for class ``target``, each holding the per-layer maps
    of every class of ``fusions``; ``layers``: the layers entering sums (None: all of them).
    """

    class_names: tuple[str, ...]
    target: int
    images: list[explore.ImageExplanation]
    image_labels: list[str]
    fusions: list[Fusion]
    layers: tuple[int, ...] | None = None

    @property
    def classes(self) -> tuple[int, ...]:
        """The classes whose maps get columns: the first fusion's."""
        return self.fusions[0].classes

    def fusion_title(self, f: Fusion, default: str) -> str:
        return default if len(self.fusions) == 1 else f.label


def resolve_class(pipeline: Pipeline, name: str | None) -> int:
    """The index of class ``name`` (default: the first class); UnknownNameError naming the classes."""
    from repcam_core.errors import UnknownNameError

    names = list(pipeline.class_names)
    if name is None:
        return 0
    if name not in names:
        raise UnknownNameError(f"unknown class {name!r}; the dataset has: {', '.join(names)}")
    return names.index(name)


def resolve_images(pipeline: Pipeline, target: int, spec: str | int | None = None) -> list[int]:
    """Evaluation-split indices of the images to show: ``N`` (the class's first N evaluation
    images) or comma-separated image ids, each of which must show the class."""
    split, name = pipeline.eval_split, pipeline.class_names[target]
    mine = pipeline.eval_indices(target).tolist()
    spec = DEFAULT_IMAGES if spec is None else spec
    text = str(spec).strip()
    if text.isdigit():
        n = int(text)
        if not mine:
            raise ConfigError(f"class {name!r} has no image in the {pipeline.config.eval_split!r} split")
        if not 1 <= n <= len(mine):
            raise ConfigError(f"--images {n}: class {name!r} has {len(mine)} image(s) in the "
                              f"{pipeline.config.eval_split!r} split; give 1..{len(mine)} or image ids")
        return mine[:n]
    wanted = [t.strip() for t in text.split(",") if t.strip()]
    if not wanted:
        raise ConfigError("--images is empty; give a number or comma-separated image ids")
    ids = list(split.ids)
    unknown = [w for w in wanted if w not in ids]
    if unknown:
        raise ConfigError(f"unknown image id(s) {', '.join(map(repr, unknown))} in the "
                          f"{pipeline.config.eval_split!r} split (ids look like {ids[0]!r})")
    idx = [ids.index(w) for w in dict.fromkeys(wanted)]
    other = [ids[i] for i in idx if i not in mine]
    if other:
        raise ConfigError(f"image(s) {', '.join(other)} do not show {name!r}; its images: "
                          f"{', '.join(ids[i] for i in mine[:8])}{' ...' if len(mine) > 8 else ''}")
    return idx


def figure_modes(text: str | Sequence[str]) -> list[str]:
    """Canonical names of the modes of a figure (comma-separated or a list); the first one must
    select representative classes, since its classes fill the figure's columns."""
    from repcam_core.method.modes import parse_modes

    modes = parse_modes(text if isinstance(text, str) else ",".join(text))
    references = [m.name for m in modes if not m.needs_model]
    if references:
        raise ConfigError(f"the paper figures show CAMs; {', '.join(references)} is a reference map without a "
                          f"model (it is scored in the tables, not drawn)")
    if modes[0].kind == "baseline":
        raise ConfigError(f"the paper figures show the maps of representative classes; the first mode "
                          f"({modes[0].name}) has none: put a mode such as S-1+A+F first")
    return [m.name for m in modes]


def fusions_for(pipeline: Pipeline, target: int, modes: Sequence[str]) -> list[Fusion]:
    """Each mode's representative classes of ``target`` (computing B, the clustering or the
    pairwise table as the mode needs, through the cache)."""
    from repcam_core.running.experiment import Experiment
    from repcam_core.method.modes import parse_mode

    parsed = [parse_mode(m) for m in modes]
    if not parsed:
        raise ConfigError("no mode given for the figure")
    exp = Experiment(pipeline)
    exp.needs(parsed)
    pairwise = exp.pairwise()["single"] if any(m.needs_pairwise for m in parsed) else None
    return [Fusion(m.name, tuple(exp.comparisons(m, pairwise)[target]), m.multilayer, m.source) for m in parsed]


def collect(pipeline: Pipeline, target: int, images: Sequence[int], fusions: Sequence[Fusion]) -> FigureData:
    """Per-layer maps of each evaluation image ``images`` for ``target`` under the multi-class
    model and every fusion's binary models, training the models that are missing (with progress).
    Maps come from private copies of the models, so the app may run this beside other jobs."""
    classes = list(dict.fromkeys(j for f in fusions if f.source == "binary" for j in f.classes))
    contrasts = list(dict.fromkeys(j for f in fusions if f.source == "contrast" for j in f.classes))
    pipeline.multiclass_model()
    missing = [j for j in classes if not pipeline.has_binary(*sorted((target, j)))]
    if missing:
        with pipeline.progress.task("binary models for the figure", len(missing)) as step:
            for j in missing:
                pipeline.binary_model(*sorted((target, j)))
                step(1)
    split = pipeline.eval_split
    with pipeline.progress.task("per-layer maps of the figure's images", len(images)) as step:
        rows = explore.explain_many(pipeline, [split.images[i] for i in images], target, classes,
                                    [split.masks[i] for i in images], step)
        model = explore.isolated(pipeline.multiclass_model()) if contrasts else None  # one copy for every row
        for row in rows:
            explore.add_contrasts(pipeline, row, contrasts, model)
    return FigureData(tuple(pipeline.class_names), target, rows, [split.ids[i] for i in images], list(fusions))


def from_explanation(expl: explore.ImageExplanation, class_names: Sequence[str], classes: Sequence[int],
                     multilayer: bool = True, layers: Sequence[int] | None = None, label: str = "",
                     fusion_label: str = "Fusion", source: str = "binary") -> FigureData:
    """The explorer's current image as a one-row figure over the classes chosen there."""
    return FigureData(tuple(class_names), expl.target, [expl], [label],
                      [Fusion(fusion_label, tuple(classes), multilayer, source)],
                      None if layers is None else tuple(layers))


__all__ = ["Fusion", "FigureData", "collect", "figure_modes", "fusions_for", "from_explanation", "resolve_class",
           "resolve_images"]
