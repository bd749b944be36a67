"""The explorer's what-if loop in headless Chromium: from a toggle to the new fused map on screen.

Each measurement runs in the page: a script notes ``performance.now()``, the toggle is clicked
(a Playwright click or key press, or a click from the same script for several sessions at once),
and the script polls every 2 ms until the fused map's caption shows the new state (mode, classes
fused, layers summed, threshold, each with its IoU) and its image has loaded. So a figure is what a
user sees: the server's rerun, the transfer and the browser's drawing, not Playwright's polling.

Toggles: "+A" off and on, the threshold one step (0.005) up and down, a layer out of the "+A" sum
and back, a representative class out of the fusion and back.
"""

from __future__ import annotations

import re
import statistics
from typing import Any

CAPTION = re.compile(r"^(?P<mode>\S+) · fused over (?P<n>\d+) class\(es\)(?: · (?P<k>\d+) of (?P<L>\d+) layers)?"
                     r" · IoU \S+ at t=(?P<t>[\d.]+)$")

CAPTIONS = "figcaption, [data-testid=stImageCaption]"
"""The explorer's image captions: its maps drawn inline (``<figure>``) and ``st.image``'s."""
_START = """([pattern, clickSelector, captions]) => {
  window.__whatif = undefined;
  const re = new RegExp(pattern);
  const t0 = performance.now();
  const done = () => {
    for (const cap of document.querySelectorAll(captions)) {
      if (!re.test(cap.innerText.trim())) continue;
      const img = cap.closest('figure, [data-testid=stImageContainer]')?.querySelector('img');
      if (img && img.complete && img.naturalWidth > 0) return true;
    }
    return false;
  };
  const poll = () => {
    if (done()) { window.__whatif = performance.now() - t0; return; }
    if (performance.now() - t0 > 10000) { window.__whatif = -1; return; }
    setTimeout(poll, 2);
  };
  if (clickSelector) document.querySelector(clickSelector).click();
  setTimeout(poll, 0);
}"""
PLUS_A = 'input[aria-label="+A"]'


def caption_state(page: Any) -> dict[str, str]:
    """The fused map's caption, parsed (``mode``, ``n``, ``k``, ``L``, ``t``)."""
    for text in page.eval_on_selector_all(CAPTIONS, "els => els.map(e => e.innerText.trim())"):
        m = CAPTION.match(text)
        if m:
            return m.groupdict()
    raise RuntimeError("no fused map on the page")


def expected(state: dict[str, str]) -> str:
    """The caption pattern of ``state`` (anchored; the IoU may be anything)."""
    layers = f" · {state['k']} of {state['L']} layers" if state.get("k") else ""
    return (f"^{re.escape(state['mode'])} · fused over {state['n']} class\\(es\\){re.escape(layers)}"
            f" · IoU \\S+ at t={re.escape(state['t'])}$")


def _measure(page: Any, want: dict[str, str], act, prepare=None) -> float:
    """ms from just before ``act()`` (after ``prepare()``, which must not rerun anything) until the
    fused map shows ``want``."""
    if prepare is not None:
        prepare()
    page.evaluate(_START, [expected(want), None, CAPTIONS])
    act()
    page.wait_for_function("window.__whatif !== undefined", timeout=15000)
    ms = page.evaluate("window.__whatif")
    if ms < 0:
        raise RuntimeError(f"the explorer did not show {want} within 10 s")
    return ms


def _multiselect(page: Any, label: str) -> Any:
    return page.locator("[data-testid=stMultiSelect]").filter(has_text=label)


def loop(page: Any, rounds: int) -> dict[str, list[float]]:
    """``rounds`` x 8 toggles on the explorer as it stands (a fused S-1+A+F map); ms per toggle kind."""
    out: dict[str, list[float]] = {k: [] for k in ("+A", "threshold", "layer", "class")}
    slider = page.locator('input[type=range][aria-label="Threshold"]')
    for _ in range(rounds):
        s = caption_state(page)
        off = {**s, "mode": s["mode"].replace("+A", ""), "k": None}
        toggle = page.locator(PLUS_A)  # the switch's own input, clicked as a user's click on it does
        out["+A"].append(_measure(page, off, lambda: toggle.evaluate("el => el.click()")))
        out["+A"].append(_measure(page, s, lambda: toggle.evaluate("el => el.click()")))
        up = {**s, "t": f"{float(s['t']) + 0.005:.3f}"}
        out["threshold"].append(_measure(page, up, lambda: slider.press("ArrowRight")))
        out["threshold"].append(_measure(page, s, lambda: slider.press("ArrowLeft")))
        layers = _multiselect(page, "Layers in the multi-layer sum")
        fewer = {**s, "k": str(int(s["k"]) - 1)}
        out["layer"].append(_measure(page, fewer, lambda: layers.locator('button[aria-label="Remove layer2"]').click()))
        out["layer"].append(_measure(page, s, *_pick(page, layers, "layer2")))
        classes = _multiselect(page, "Representative classes")
        name = classes.locator("[data-tag-index='0'] span[title]").first.get_attribute("title")
        less = {**s, "n": str(int(s["n"]) - 1)}
        remove = classes.locator(f'button[aria-label="Remove {name}"]')
        out["class"].append(_measure(page, less, lambda: remove.click()))
        out["class"].append(_measure(page, s, *_pick(page, classes, name)))
    return out


def _pick(page: Any, box: Any, option: str):
    """(act, prepare) that add ``option`` back to a multiselect: open its list and type the name (no
    rerun: the list is long and drawn lazily), then the timed click on the option."""

    def prepare() -> None:
        box.locator("input").first.click()
        page.keyboard.type(option)
        page.get_by_role("option", name=option, exact=True).wait_for()

    def act() -> None:
        page.get_by_role("option", name=option, exact=True).click()
        page.keyboard.press("Escape")

    return act, prepare


def sessions_at_once(pages: list[Any], rounds: int) -> list[list[float]]:
    """"+A" toggled in every page at (nearly) the same moment, ``rounds`` times; per round, each
    page's ms from its own click to its new fused map. The clicks are issued by one in-page script
    per page, started one after the other (a few ms apart)."""
    out = []
    states = [caption_state(p) for p in pages]
    if not all("+A" in s["mode"] for s in states):
        raise RuntimeError("every session must start with +A on")
    for r in range(rounds):
        wants = [({**s, "mode": s["mode"].replace("+A", ""), "k": None} if r % 2 == 0 else s) for s in states]
        for page, want in zip(pages, wants):
            page.evaluate(_START, [expected(want), PLUS_A, CAPTIONS])
        times = []
        for page in pages:
            page.wait_for_function("window.__whatif !== undefined", timeout=15000)
            times.append(page.evaluate("window.__whatif"))
        if min(times) < 0:
            raise RuntimeError("a session did not show its new fused map within 10 s")
        out.append(times)
    return out


def summary(per_kind: dict[str, list[float]]) -> dict[str, Any]:
    every = [v for vs in per_kind.values() for v in vs]
    return {"whatif_ms": statistics.median(every), "whatif_ms_by_toggle": {k: statistics.median(v)
                                                                           for k, v in per_kind.items()},
            "whatif_ms_all": every}
