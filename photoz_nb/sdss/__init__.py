"""The real SDSS data path: frames, cutouts, the sample query and the public cube."""
