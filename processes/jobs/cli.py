"""`portail-lls worker` and `portail-lls jobs …`: the job queue, for the operator."""
from __future__ import annotations

import click

from portail.settings import get_settings


@click.command("worker")
def worker():
    """Exécute les travaux d'export en file d'attente (autant d'instances que voulu)."""
    from processes.jobs.worker import serve
    serve(get_settings())


@click.group("jobs")
def jobs():
    """Travaux d'export asynchrones : état de la file, purge."""


@jobs.command("status")
def jobs_status():
    """Nombre de travaux par état."""
    from processes.jobs import store
    from portail.pools import jobs_pool
    with jobs_pool().connection() as conn:
        counts = store.status_counts(conn)
    for status, n in counts.items():
        click.echo(f"{status:<11} {n}")


@jobs.command("purge")
def jobs_purge():
    """Supprime les travaux terminés (et leurs fichiers) dont la durée de conservation est passée."""
    from processes.jobs import store
    from portail.pools import jobs_pool
    with jobs_pool().connection() as conn:
        n = store.purge(conn)
    click.echo(f"{n} travail(aux) terminé(s) supprimé(s) "
               f"(conservation : {get_settings().jobs_result_hours} h).")
