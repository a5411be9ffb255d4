"""Statistical secrecy in the published views, proved by the auditor on generated data."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from etl_fixtures import demo_small, etl_settings  # noqa: F401 - fixtures
from etl.publish import publish
from portail.secret.audit import audit

THEME_VIEWS = [f"{t}_{s}" for t in ("parc", "occupation") for s in
               ("residence", "iris", "qpv", "commune", "mel")] + \
              [f"attributions_{s}" for s in ("iris", "qpv", "commune", "mel")]
BASES = {"parc": "nb_logements", "occupation": "nb_menages", "attributions": "nb_attributions"}


@pytest.fixture(scope="module")
def published(demo_small, etl_settings):  # noqa: F811
    return etl_settings


def _service(settings):
    return psycopg.connect(settings.service_dsn(), autocommit=True)


def test_the_auditor_finds_no_leak_in_the_demo_data(published):
    report = audit(published.owner_dsn(), published.service_dsn())
    assert report.checked > 500
    assert report.ok, "\n".join(map(str, report.offences[:20]))


def test_no_published_base_under_the_threshold(published):
    with _service(published) as conn:
        for view in THEME_VIEWS:
            base = BASES[view.split("_")[0]]
            small = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {} BETWEEN 1 AND 10")
                                 .format(sql.Identifier("diffusion", view), sql.Identifier(base))
                                 ).fetchone()[0]
            assert small == 0, view


def test_a_small_residence_keeps_only_id_geometry_and_status(published):
    with psycopg.connect(published.owner_dsn()) as core:
        small = {r for (r,) in core.execute(
            "SELECT residence_id || '-' || millesime FROM core.residence WHERE nb_logements < 11")}
    assert small, "the demo must contain résidences under the threshold"
    with _service(published) as conn:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        rows = cur.execute("SELECT * FROM diffusion.parc_residence WHERE id = ANY(%s)",
                           [list(small)]).fetchall()
        assert len(rows) == len(small)  # still drawn on the map
        kept = {"id", "residence_id", "millesime", "statut_secret", "statut_quittance",
                "geom", "geom_4326"}
        for row in rows:
            assert row["statut_secret"] == "S"
            assert row["geom"] is not None
            assert [k for k, v in row.items() if k not in kept and v is not None] == []
        occ = cur.execute("SELECT * FROM diffusion.occupation_residence WHERE id = ANY(%s)",
                          [list(small)]).fetchall()
        assert all(r["statut_secret"] == "S" and r["nb_menages"] is None for r in occ)


def test_every_blank_is_explained_by_a_status(published):
    with _service(published) as conn:
        for view in THEME_VIEWS:
            base = BASES[view.split("_")[0]]
            rows = conn.execute(sql.SQL("SELECT statut_secret, {} IS NULL, count(*) FROM {} "
                                        "GROUP BY 1, 2").format(
                sql.Identifier(base), sql.Identifier("diffusion", view))).fetchall()
            for status, blank, _ in rows:
                # One public code for every hidden figure: S and C must not be told apart.
                assert status in ("P", "S", "Z"), view
                assert blank == (status == "S"), (view, status, blank)


def test_the_public_code_never_tells_why_a_figure_is_hidden(published):
    with _service(published) as conn:
        columns = conn.execute(
            "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'diffusion' "
            "AND a.attname LIKE 'statut%' AND a.attnum > 0").fetchall()
        assert len(columns) >= 15
        for view, column in columns:
            codes = {c for (c,) in conn.execute(sql.SQL("SELECT DISTINCT {} FROM {}").format(
                sql.Identifier(column), sql.Identifier("diffusion", view)))}
            assert codes <= {"P", "S", "Z", "N"}, (view, column, codes)


def test_complementary_suppression_is_used_and_kept_internal(published):
    with psycopg.connect(published.owner_dsn()) as core:
        counts = dict(core.execute(
            "SELECT coalesce(motif, statut), count(*) FROM core.secret_statut "
            "WHERE theme = 'parc' AND echelle = 'residence' GROUP BY 1").fetchall())
    assert counts.get("complementaire", 0) > 0
    # Protection costs less than what the threshold itself hides.
    assert counts["complementaire"] < counts["seuil"]


def test_attributions_only_as_3_year_windows_and_never_per_residence(published):
    with _service(published) as conn:
        views = {v for (v,) in conn.execute(
            "SELECT matviewname FROM pg_matviews WHERE schemaname = 'diffusion'")}
        assert not any(v.startswith("attributions_res") for v in views)
        periods = conn.execute("SELECT DISTINCT periode, millesime FROM diffusion.attributions_mel"
                               ).fetchall()
        assert periods
        for period, millesime in periods:
            first, last = map(int, period.split("-"))
            assert last == millesime and last - first + 1 == 3


def test_the_auditor_catches_a_tampered_publication(published):
    """Publish one complementary-hidden résidence: the one it protected falls."""
    owner = published.owner_dsn()
    with psycopg.connect(owner, autocommit=True) as conn:
        row = conn.execute(
            "SELECT millesime, code FROM core.secret_statut WHERE theme = 'parc' "
            "AND echelle = 'residence' AND motif = 'complementaire' ORDER BY 1, 2 LIMIT 1"
        ).fetchone()
        assert row is not None
        try:
            conn.execute("UPDATE core.secret_statut SET statut = 'P', motif = NULL "
                         "WHERE theme IN ('parc', 'quittance', 'occupation') "
                         "AND echelle = 'residence' AND code = %s", [row[1]])
            conn.execute("REFRESH MATERIALIZED VIEW diffusion.parc_residence")
            report = audit(owner, published.service_dsn())
            assert not report.ok
            assert any(o.theme in ("parc", "quittance", "logements") for o in report.offences)
            # The report names cells and relations, never a figure.
            text = "\n".join(map(str, report.offences))
            assert "publié" in text or "révélé" in text or "reste" in text or "borné" in text
        finally:
            with conn.transaction():
                publish(conn, "restauration après le test d'audit")
    assert audit(owner, published.service_dsn()).ok


def test_a_leaky_publication_never_goes_live(published, monkeypatch):
    """Fail closed: a suppression that forgets the complementary cells is caught by the
    audit of the candidate views; the previous publication stays served, unchanged."""
    import portail.secret.statuses as statuses
    from etl.publish import PublicationRefused
    from portail.secret.model import COMPLEMENTARY, PUBLISHED

    real = statuses.suppress

    def forgetful(*args, **kwargs):
        result = real(*args, **kwargs)
        result.status = [PUBLISHED if s == COMPLEMENTARY else s for s in result.status]
        return result

    owner = published.owner_dsn()

    def served():
        with _service(published) as conn:
            version = conn.execute("SELECT data_version FROM diffusion.data_version").fetchone()
            rows = conn.execute("SELECT md5(string_agg(id || coalesce(nb_logements::text, '-'), "
                                "',' ORDER BY id)) FROM diffusion.parc_iris").fetchone()
        return version, rows

    before = served()
    monkeypatch.setattr(statuses, "suppress", forgetful)
    with psycopg.connect(owner) as conn:
        with pytest.raises(PublicationRefused) as refused:
            with conn.transaction():
                publish(conn, "publication fuyante (test)")
    message = str(refused.value)
    assert "Publication refusée" in message and "fuite" in message
    assert served() == before
    monkeypatch.setattr(statuses, "suppress", real)
    assert audit(owner, published.service_dsn()).ok


def test_each_publication_writes_its_loss_report(published):
    from portail.secret.report import format_report, read_report
    with psycopg.connect(published.owner_dsn()) as conn:
        version, rows = read_report(conn)
        current = conn.execute("SELECT max(data_version) FROM core.publication").fetchone()[0]
    assert version == current
    layers = {(r.couche, r.groupe) for r in rows}
    assert {("parc_residence", "statut_secret"), ("parc_iris", "statut_quittance"),
            ("occupation_commune", "statut_secret"), ("attributions_iris", "statut_secret"),
            ("attributions_commune", "statut_qpv"),
            ("diagnostic_quartiers", "comptes")} <= layers
    for r in rows:
        assert 0 <= r.share_cells <= 1 and 0 <= r.share_base <= 1
        assert r.hidden <= r.cellules
    residences = [r for r in rows if r.couche == "parc_residence" and r.groupe == "statut_secret"]
    assert all(r.seuil > 0 and r.complementaire > 0 for r in residences)
    text = "\n".join(format_report(rows))
    assert "part de la base" in text and "parc_residence" in text


def test_audit_secret_verb_exits_zero_when_clean(published):
    cli = str(Path(sys.executable).parent / "portail-lls")
    env = {**os.environ, "DATABASE_URL": published.database_url}
    result = subprocess.run([cli, "audit", "secret"], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Aucune fuite" in result.stdout
    # The loss report of the publication, for the administrator.
    assert "parc_residence" in result.stdout and "part de la base" in result.stdout


def test_the_threshold_is_read_from_one_place(published):
    owner = published.owner_dsn()
    with psycopg.connect(owner, autocommit=True) as conn:
        try:
            with conn.transaction():
                conn.execute("UPDATE core.parametre_secret SET seuil = 20")
                publish(conn, "seuil porté à 20 (test)")
            with _service(published) as svc:
                assert svc.execute("SELECT count(*) FROM diffusion.parc_iris "
                                   "WHERE nb_logements BETWEEN 1 AND 19").fetchone()[0] == 0
            assert audit(owner, published.service_dsn()).ok
        finally:
            with conn.transaction():
                conn.execute("UPDATE core.parametre_secret SET seuil = 11")
                publish(conn, "seuil rétabli à 11")


def test_service_role_cannot_reach_core_by_any_sql(published):
    with psycopg.connect(published.owner_dsn()) as core:
        functions = core.execute(
            "SELECT n.nspname, p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname IN ('core', 'staging', 'register', 'portail_meta')").fetchall()
        tables = core.execute(
            "SELECT schemaname, matviewname FROM pg_matviews WHERE schemaname = 'core' "
            "UNION ALL SELECT schemaname, viewname FROM pg_views WHERE schemaname = 'core'"
        ).fetchall()
    assert ("core", "secret_statut") not in tables and tables
    denied = (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction,
              psycopg.errors.UndefinedFunction)
    with _service(published) as conn:
        for schema, name in tables + [("core", "secret_statut"), ("core", "logement")]:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier(schema, name)))
        for schema, name in functions:
            with pytest.raises(denied):
                conn.execute(sql.SQL("SELECT {}()").format(sql.Identifier(schema, name)))
        for statement in ("SET ROLE lls_owner", "SET SESSION AUTHORIZATION lls_owner",
                          "SELECT lo_import('/etc/passwd')",
                          "COPY (SELECT 1) TO PROGRAM 'id'",
                          "CREATE EXTENSION dblink",
                          "SELECT * FROM pg_read_file('postgresql.conf')",
                          "CREATE FUNCTION public.f() RETURNS int AS 'SELECT 1' LANGUAGE sql"):
            with pytest.raises(psycopg.Error):
                conn.execute(statement)


def test_republishing_from_the_command_line(published):
    cli = str(Path(sys.executable).parent / "portail-lls")
    env = {**os.environ, "DATABASE_URL": published.database_url}
    result = subprocess.run([cli, "etl", "publish"], capture_output=True, text=True, env=env,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Publié : version des données" in result.stdout
    assert "parc_residence" in result.stdout
