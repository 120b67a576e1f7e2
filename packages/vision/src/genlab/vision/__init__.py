"""Image generative models built on genlab.core."""
