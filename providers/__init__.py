"""pygeoapi providers over the published (diffusion) views."""
