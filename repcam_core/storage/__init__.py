"""Storage: artifacts on disk (the cache, file integrity, machine records)."""
