"""Evaluation: scoring maps against masks (IoU counts, protocols, reference maps, results, tables)."""
