"""Raw scan to model: scan preparation, rigid alignment, model fitting, refinement and transfer."""
