"""Training: the two-stage loop, its plans and optimizers, the frozen-prefix feature cache."""
