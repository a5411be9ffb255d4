"""Export jobs: queue in PostgreSQL (store), pygeoapi manager (manager), workers (worker)."""
