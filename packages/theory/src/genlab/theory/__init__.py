"""Experiments behind the theory of generative models, built on genlab.core."""
