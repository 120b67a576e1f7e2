"""Video generative models built on genlab.core."""
