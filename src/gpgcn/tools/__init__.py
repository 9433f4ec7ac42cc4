"""Development tools outside the workflow's imports: the GPU check and synthetic cohorts for benchmarks."""
