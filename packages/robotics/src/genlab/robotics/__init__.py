"""Planning with diffusion built on genlab.core."""
