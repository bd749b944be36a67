"""Datasets: the embedded generated world, VOC-layout and COCO readers, preprocessing."""
