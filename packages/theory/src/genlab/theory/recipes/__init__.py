"""The theory experiments as genlab recipes (``genlab train theory-...``)."""
