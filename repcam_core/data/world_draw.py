"""Drawing for the synthetic world: part shapes, family body types, markers, backgrounds.

Object coordinates: ``u`` to the right, ``v`` down, in object units (a body is about 2 units
wide); a :class:`Pose` maps them to pixels. Each family body type lists its parts with a colour
role and five marker anchors; a class is a body type plus one small marker (shape, anchor).
Private to :mod:`repcam_core.data.world`, which owns the configuration and the writers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

MARKER_SHAPES = ("triangle", "cross", "bar", "dot", "ring")
MARKER_HALF = 0.2  # marker half-size, in object units
# Each sibling's marker has its own colour (as a real distinguishing part has a typical look).
MARKER_COLOURS = ((235, 20, 20), (20, 90, 245), (250, 225, 0), (10, 200, 40), (240, 0, 240))
MAX_CLASSES_PER_FAMILY = 25  # unique (marker shape, anchor) pairs

# ----------------------------------------------------------------------------- shapes
# Predicates on object coordinates (u right, v down, arrays [H, W]) -> bool [H, W].

def _rect(u, v, u0, u1, v0, v1):
    return (u >= u0) & (u <= u1) & (v >= v0) & (v <= v1)


def _disk(u, v, cu, cv, ru, rv=None):
    rv = ru if rv is None else rv
    return ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 <= 1.0


def _poly(u, v, pts):
    """Inside a convex polygon given by its vertices in order (either orientation)."""
    signs = []
    for (u0, v0), (u1, v1) in zip(pts, pts[1:] + pts[:1]):
        signs.append((u1 - u0) * (v - v0) - (v1 - v0) * (u - u0))
    s = np.stack(signs)
    return (s >= 0).all(0) | (s <= 0).all(0)


def _round_rect(u, v, u0, u1, v0, v1, r):
    inner = _rect(u, v, u0 + r, u1 - r, v0, v1) | _rect(u, v, u0, u1, v0 + r, v1 - r)
    corners = [_disk(u, v, cu, cv, r) for cu in (u0 + r, u1 - r) for cv in (v0 + r, v1 - r)]
    return inner | np.logical_or.reduce(corners)


# Each body type: parts as (role, mask) in drawing order, the 5 marker anchors, the extent
# (u0, u1, v0, v1) including protruding markers. Roles: body (textured body colour),
# shade (darker body colour), dark, light. Everything but the marker is family-shared.
def _vehicle(u, v):
    windows = [_rect(u, v, c - 0.15, c + 0.15, -0.35, -0.12) for c in (-0.5, 0.0, 0.5)]
    return [
        ("body", _round_rect(u, v, -1.0, 1.0, -0.45, 0.2, 0.15)),
        ("light", np.logical_or.reduce(windows)),
        ("dark", _disk(u, v, -0.6, 0.25, 0.2) | _disk(u, v, 0.6, 0.25, 0.2)),
    ]


def _animal(u, v):
    legs = [_rect(u, v, c - 0.05, c + 0.05, 0.1, 0.68) for c in (-0.5, -0.3, 0.3, 0.5)]
    neck = _poly(u, v, [(0.45, -0.2), (0.7, -0.5), (0.88, -0.3), (0.6, 0.05)])
    tail = _poly(u, v, [(-0.66, -0.05), (-0.95, -0.3), (-0.9, -0.36), (-0.64, -0.13)])
    return [
        ("shade", np.logical_or.reduce(legs) | tail),
        ("body", _disk(u, v, 0.0, 0.0, 0.7, 0.3) | neck | _disk(u, v, 0.8, -0.38, 0.2)),
    ]


def _furniture(u, v):
    body = _poly(u, v, [(-0.4, -0.85), (0.4, -0.85), (0.6, 0.45), (-0.6, 0.45)])
    stripes = _rect(u, v, -1, 1, -0.3, -0.23) | _rect(u, v, -1, 1, 0.08, 0.15)
    legs = _rect(u, v, -0.55, -0.4, 0.45, 0.85) | _rect(u, v, 0.4, 0.55, 0.45, 0.85)
    return [("shade", legs), ("body", body), ("dark", stripes & body)]


def _flyer(u, v):
    wings = _poly(u, v, [(-0.1, -0.75), (0.3, 0.0), (-0.1, 0.75), (-0.45, 0.0)])
    fin = _poly(u, v, [(-0.95, -0.02), (-0.62, -0.02), (-0.95, -0.45)])
    return [
        ("shade", wings | fin),
        ("body", _disk(u, v, 0.0, 0.0, 0.95, 0.15)),
        ("light", _disk(u, v, 0.68, -0.04, 0.13, 0.06)),
    ]


_BODY_TYPES = (
    (_vehicle, ((-0.8, -0.22), (0.8, -0.22), (-0.25, 0.02), (0.25, 0.02), (0.0, -0.55)),
     (-1.0, 1.0, -0.7, 0.45)),
    (_animal, ((-0.42, 0.0), (0.0, -0.12), (0.4, 0.02), (0.84, -0.42), (0.0, 0.16)),
     (-0.95, 1.0, -0.6, 0.68)),
    (_furniture, ((-0.2, -0.6), (0.2, -0.6), (0.0, -0.05), (-0.3, 0.3), (0.3, 0.3)),
     (-0.6, 0.6, -0.85, 0.85)),
    (_flyer, ((-0.12, -0.42), (-0.12, 0.42), (0.45, 0.0), (-0.55, 0.0), (-0.88, -0.28)),
     (-0.95, 0.95, -0.75, 0.75)),
)


def _marker(u, v, shape, cu, cv):
    m, du, dv = MARKER_HALF, u - cu, v - cv
    if shape == "triangle":
        return _poly(du, dv, [(0.0, -m), (m, 0.8 * m), (-m, 0.8 * m)])
    if shape == "cross":
        return (_rect(du, dv, -m, m, -0.33 * m, 0.33 * m)) | _rect(du, dv, -0.33 * m, 0.33 * m, -m, m)
    if shape == "bar":
        return _rect(du, dv, -0.3 * m, 0.3 * m, -1.1 * m, 1.1 * m)
    r2 = du**2 + dv**2
    if shape == "dot":
        return r2 <= m**2
    return (r2 <= m**2) & (r2 >= (0.5 * m) ** 2)  # ring


@dataclass(frozen=True)
class ClassDesign:
    """How class ``index`` is drawn: its family's body type and its distinguishing marker."""

    index: int
    family: int
    body_type: int
    stretch: float  # vertical stretch of the family's body (1.0 for the first four families)
    marker_shape: str
    marker_anchor: tuple[float, float]
    marker_colour: tuple[int, int, int] = MARKER_COLOURS[0]


def class_design(index: int, classes_per_family: int) -> ClassDesign:
    """The design of class ``index`` when every family has ``classes_per_family`` classes."""
    family, k = divmod(index, classes_per_family)
    body_type = family % len(_BODY_TYPES)
    anchors = _BODY_TYPES[body_type][1]
    return ClassDesign(
        index=index, family=family, body_type=body_type,
        stretch=1.0 + 0.3 * (family // len(_BODY_TYPES)),
        marker_shape=MARKER_SHAPES[k % 5], marker_anchor=anchors[(k + k // 5) % 5],
        marker_colour=MARKER_COLOURS[(k + 2 * (k // 5)) % len(MARKER_COLOURS)],
    )


@dataclass(frozen=True)
class Pose:
    """Where an object sits: centre (pixels), pixels per object unit, horizontal flip."""

    cx: float
    cy: float
    scale: float
    flip: bool


@dataclass(frozen=True)
class Look:
    """Colours of one object (RGB floats 0..255) and its body texture parameters."""

    body: tuple[float, float, float]
    marker: tuple[float, float, float]
    dark: tuple[float, float, float]
    light: tuple[float, float, float]
    stripe_angle: float
    stripe_period: float
    stripe_amp: float


@dataclass(frozen=True)
class RenderedObject:
    """One drawn object: class, and its part masks ``bool [H, W]`` before any occlusion."""

    class_index: int
    body: np.ndarray  # body-coloured pixels (family-shared shape)
    shared: np.ndarray  # family-shared parts (wheels, legs, stripes, ...)
    marker: np.ndarray  # the class's distinguishing part

    @property
    def full(self) -> np.ndarray:
        return self.body | self.shared | self.marker


def draw_object(canvas: np.ndarray, design: ClassDesign, pose: Pose, look: Look) -> RenderedObject:
    """Paint one object onto ``canvas`` (float [H, W, 3], modified in place); return its parts."""
    h, w, _ = canvas.shape
    ys, xs = pixel_centres(h, w)
    u = (xs - pose.cx) / pose.scale
    v = (ys - pose.cy) / (pose.scale * design.stretch)
    if pose.flip:
        u = -u
    stripes = np.sin((xs * math.cos(look.stripe_angle) + ys * math.sin(look.stripe_angle))
                     * (2 * math.pi / look.stripe_period))
    body_rgb = np.asarray(look.body, np.float32) + (look.stripe_amp * stripes)[..., None]
    colours = {"body": body_rgb, "shade": 0.65 * body_rgb,
               "dark": np.asarray(look.dark, np.float32), "light": np.asarray(look.light, np.float32)}
    layer = np.zeros((h, w), np.int8)  # what each pixel shows last: 0 none, 1 body, 2 shared
    for role, part in _BODY_TYPES[design.body_type][0](u, v):
        colour = colours[role]
        canvas[part] = colour[part] if colour.ndim == 3 else colour
        layer[part] = 1 if role == "body" else 2
    marker = _marker(u, v, design.marker_shape, *design.marker_anchor)
    canvas[marker] = np.asarray(design.marker_colour, np.float32)
    return RenderedObject(design.index, (layer == 1) & ~marker, (layer == 2) & ~marker, marker)


# ----------------------------------------------------------------------------- sampling
_PALETTE = np.array([  # shared by all classes: colour is no class cue
    (200, 40, 40), (40, 160, 60), (40, 80, 200), (220, 200, 50), (230, 130, 30), (140, 60, 170),
    (30, 160, 160), (130, 85, 45), (128, 128, 128), (230, 120, 170), (120, 130, 40), (30, 40, 100),
    (240, 240, 240), (25, 25, 25),
], np.float32)


def random_look(rng: np.random.Generator, avoid: tuple[int, int, int] | None = None) -> Look:
    """Random body colour (shared palette, far from ``avoid`` = the marker colour so the marker
    stays visible), contrasting spare marker colour, part shades, stripes."""
    ok = [i for i in range(len(_PALETTE))
          if avoid is None or np.abs(_PALETTE[i] - np.asarray(avoid, np.float32)).sum() > 200]
    body_i = ok[int(rng.integers(len(ok)))]
    body = np.clip(_PALETTE[body_i] + rng.uniform(-25, 25, 3), 0, 255)
    far = [i for i in range(len(_PALETTE)) if np.abs(_PALETTE[i] - _PALETTE[body_i]).sum() > 220]
    marker = _PALETTE[far[int(rng.integers(len(far)))]]
    dark, light = rng.uniform(15, 60), rng.uniform(180, 235)
    return Look(
        body=tuple(body.tolist()), marker=tuple(marker.tolist()),
        dark=(dark, dark, dark + 10), light=(light - 15, light, min(255.0, light + 15)),
        stripe_angle=float(rng.uniform(0, math.pi)), stripe_period=float(rng.uniform(4, 12)),
        stripe_amp=float(rng.choice([0.0, 0.0, rng.uniform(10, 35)])),
    )


def random_pose(rng: np.random.Generator, width: int, height: int, design: ClassDesign,
                width_frac: float, cx: float) -> Pose:
    """A pose whose body is ``width_frac`` of the image width (capped by the height), centred
    at column ``cx``, at a random row keeping the object inside the image, flipped at random."""
    u0, u1, v0, v1 = _BODY_TYPES[design.body_type][2]
    v0, v1 = v0 * design.stretch, v1 * design.stretch
    scale = min(width_frac * width / (u1 - u0), 0.92 * height / (v1 - v0))
    lo, hi = -v0 * scale, height - v1 * scale
    cy = float(rng.uniform(lo, hi)) if hi > lo else height / 2 - (v0 + v1) / 2 * scale
    return Pose(cx=cx, cy=cy, scale=float(scale), flip=bool(rng.random() < 0.5))


def background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Smooth colour noise plus 2-5 clutter shapes, ``float32 [h, w, 3]`` (labelled background)."""
    low = rng.uniform(30, 225, (3, 4, 3)).astype(np.uint8)
    canvas = np.asarray(Image.fromarray(low).resize((w, h), Image.BILINEAR), np.float32).copy()
    canvas += rng.normal(0, 6, canvas.shape).astype(np.float32)
    ys, xs = pixel_centres(h, w)
    for _ in range(int(rng.integers(2, 6))):  # clutter: lines, squares, blobs (never a class part)
        kind, colour = int(rng.integers(3)), rng.uniform(0, 255, 3).astype(np.float32)
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        if kind == 0:
            x1, y1 = rng.uniform(0, w), rng.uniform(0, h)
            dx, dy = x1 - x0, y1 - y0
            t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / max(dx * dx + dy * dy, 1e-6), 0, 1)
            sel = (xs - x0 - t * dx) ** 2 + (ys - y0 - t * dy) ** 2 <= 0.7
        elif kind == 1:
            s = rng.uniform(1.5, 3.5)
            sel = (np.abs(xs - x0) <= s) & (np.abs(ys - y0) <= s)
        else:
            sel = ((xs - x0) / rng.uniform(1.5, 4)) ** 2 + ((ys - y0) / rng.uniform(1.5, 4)) ** 2 <= 1
        canvas[sel] = colour
    return canvas


@lru_cache(maxsize=8)
def pixel_centres(h: int, w: int) -> np.ndarray:
    """``float32 [2, h, w]``: each pixel's centre (row + 0.5, column + 0.5), read-only; made once
    per image size (every object and background of a world image needs it)."""
    grid = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    grid.setflags(write=False)
    return grid


def _dilate(m: np.ndarray) -> np.ndarray:
    out = m.copy()
    out[1:] |= m[:-1]
    out[:-1] |= m[1:]
    row = out.copy()
    out[:, 1:] |= row[:, :-1]
    out[:, :-1] |= row[:, 1:]
    return out


def void_band(region: np.ndarray, width: int) -> np.ndarray:
    """``bool [H, W]``: dilation XOR erosion of ``region`` by ``width`` 3x3 steps."""
    grown, shrunk = region.copy(), region.copy()
    for _ in range(width):
        grown, shrunk = _dilate(grown), ~_dilate(~shrunk)
    return grown ^ shrunk
