"""3D generation built on genlab.core and nerfstudio."""
