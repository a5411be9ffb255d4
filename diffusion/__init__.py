"""The read model of the published views (schema ``diffusion``): the one place that knows
what is published and how to select it.

Everything that reads published data goes through here: the OGC API provider
(``providers``), the exports and the descriptive sheets (``processes``), the map
(``carte``). It owns

- the catalogue of a view (columns and geometry columns, read from PostgreSQL
  once per process: every name a request brings is checked against it),
  ``catalogue``;
- the data version (the key of every cache) and the pooled service-role
  connection, whose outage is one error, ``store``;
- the loaded millésimes of a view and the default-millésime rule (the latest),
  ``millesimes``;
- the CRS the portal serves and the bbox and geometry-output clauses, ``clauses``;
- its errors (``errors``), which each channel turns into its own answer (400 of
  the API, refused export, sheet page…).

It reads as the service role, which sees the diffusion schema only, where the
statistical secrecy is already applied: nothing here aggregates.
"""
