"""Running: the configuration, the pipeline of cached artifacts, experiments, workers and executors."""
