"""Backbones by name (torchvision and a small fast network), heads and pretrained weights."""
