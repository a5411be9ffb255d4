"""Retention (12 years, dry run), status, and the CLI verbs."""
from __future__ import annotations

from pathlib import Path

import psycopg
from click.testing import CliRunner

from etl.loading import current_year
from etl.retention import oldest_kept, purge, status
from etl_fixtures import *  # noqa: F401,F403

CORPUS = Path(__file__).parent / "corpus"


class _Rollback(Exception):
    """Raised inside the test transaction so that the shared database is left intact."""


def test_purge_removes_only_millesimes_past_twelve_years(demo_small):
    dsn = demo_small["dsn"]
    with psycopg.connect(dsn) as conn:
        try:
            with conn.transaction():
                years = [m for (m,) in conn.execute("SELECT DISTINCT millesime FROM core.logement ORDER BY 1")]
                oldest = years[0]
                today = oldest + 12            # as if twelve years later: the oldest goes, alone
                assert oldest_kept(today) == oldest + 1
                dry = purge(conn, dry_run=True, today_year=today)
                assert dry and all(m <= oldest for _, m, _ in dry)
                assert any(t == "logement" and m == oldest for t, m, _ in dry)
                n = conn.execute("SELECT count(*) FROM core.logement WHERE millesime = %s", [oldest]).fetchone()[0]
                assert n > 0                   # the dry run deleted nothing
                purge(conn, dry_run=False, today_year=today)
                left = [m for (m,) in conn.execute("SELECT DISTINCT millesime FROM core.logement ORDER BY 1")]
                assert left == years[1:]
                assert conn.execute("SELECT count(*) FROM core.attribution WHERE millesime <= %s",
                                    [oldest]).fetchone()[0] == 0
                raise _Rollback()
        except _Rollback:
            pass
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(DISTINCT millesime) FROM core.logement").fetchone()[0] >= 3


def test_status_lists_sources_and_counts(demo_small):
    with psycopg.connect(demo_small["dsn"]) as conn:
        rows = status(conn)
    rpls = [r for r in rows if r["source"] == "rpls"]
    assert len(rpls) >= 3
    assert all(r["rows_present"] == r["rows_loaded"] and r["fictif"] for r in rpls)


def test_cli_status_purge_and_load(demo_small, monkeypatch):
    from portail.cli import main
    from portail.settings import get_settings
    monkeypatch.setenv("DATABASE_URL", demo_small["dsn"])
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        out = runner.invoke(main, ["etl", "status"])
        assert out.exit_code == 0 and "rpls" in out.output and "[fictif]" in out.output
        out = runner.invoke(main, ["etl", "purge"])
        assert out.exit_code == 0 and ("Rien à purger" in out.output or "serait purgé" in out.output)
        out = runner.invoke(main, ["etl", "load", "rpls", str(CORPUS / "rpls_doublons.csv"),
                                   "--millesime", "2024"])
        assert out.exit_code == 1
        assert "ligne 4, champ IDENT_REP" in out.output and "Traceback" not in out.output
        out = runner.invoke(main, ["etl", "load", "rpls", str(CORPUS / "rpls_valide.csv"),
                                   "--millesime", str(current_year() + 1)])
        assert out.exit_code == 1 and "futur" in out.output
    finally:
        get_settings.cache_clear()
