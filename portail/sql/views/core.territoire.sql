-- core.territoire: territory outlines, one row per IRIS / QPV / commune, plus the MEL.
CREATE MATERIALIZED VIEW core.territoire AS
SELECT 'iris'::text AS echelle, code_iris AS code, nom_iris AS nom, insee_com AS code_insee, geom
FROM core.iris
UNION ALL
SELECT 'qpv', code_qpv, nom_qpv, communes[1], geom FROM core.qpv
UNION ALL
SELECT 'commune', code_insee, nom, code_insee, geom FROM core.commune
UNION ALL
SELECT 'mel', 'MEL', 'Métropole Européenne de Lille', NULL,
       ST_Multi(ST_Union(geom))::geometry(MultiPolygon, 2154)
FROM core.commune HAVING count(*) > 0;
CREATE UNIQUE INDEX territoire_pk ON core.territoire (echelle, code);
