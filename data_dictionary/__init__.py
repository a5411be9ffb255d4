"""Data dictionary of the portal: the single source of truth for layers and fields."""
