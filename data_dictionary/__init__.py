"""The data dictionary: the single source of truth for layers and fields."""
