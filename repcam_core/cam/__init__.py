"""CAM computation: hooks, per-layer gradient maps in one pass, multi-layer fusion."""
