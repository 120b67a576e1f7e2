"""genlab.core: the primitives every genlab package builds on.

Conventions (docs/architecture.md): time is the noise level, t in [0, 1] with t = 0 clean data and
t = 1 pure noise; t's shape is a prefix of x's shape; every model is called as ``model(x_t, t, **cond)``.
"""

__version__ = "0.1.0"
