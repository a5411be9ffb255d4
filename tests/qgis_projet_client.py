"""Run by the system Python that has QGIS (python3-qgis), headless, by tests/test_qgis_projet.py.

Opens the portal's .qgz after creating the Basic authentication configuration with the
project's identifier (as the training page tells a user to), then for every layer: is it
valid, where does it point, how many features does it load from the live server, what
does its renderer hold, and what does it draw (rendered alone, at a scale where the
project shows it, without antialiasing so that colours stay exact). Optionally renders
one point (a hidden résidence) up close. Prints one line ``RESULT{json}``.

Arguments: project path, login, password, authcfg id, work dir, JSON of the features to
look at closely ({layer id: [field, value]}), screenshot folder ("" for none), folder of the
served stylesheets (``{collection}.qml`` and ``{collection}.sld``, each loaded onto a
copy of the project's layer: QGIS must read it and find the same rules).
"""
import json
import os
import sys
from collections import Counter

os.environ["QT_QPA_PLATFORM"] = "offscreen"
path, login, password, authcfg, workdir, points = sys.argv[1:7]
shots = sys.argv[7] if len(sys.argv) > 7 else ""
styles_dir = sys.argv[8] if len(sys.argv) > 8 else ""
os.environ["QGIS_AUTH_DB_DIR_PATH"] = workdir

from qgis.core import (
    QgsApplication,
    QgsAuthMethodConfig,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsRectangle,
    QgsRenderContext,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

app = QgsApplication([], bool(shots), workdir)
app.initQgis()
manager = QgsApplication.authManager()
assert manager.setMasterPassword("master password of the tests", True)
config = QgsAuthMethodConfig("Basic")
config.setId(authcfg)
config.setName("Portail LLS")
config.setConfig("username", login)
config.setConfig("password", password)
stored = manager.storeAuthenticationConfig(config, True)
assert stored[0] if isinstance(stored, tuple) else stored, "auth config not stored"

project = QgsProject.instance()
opened = project.read(path)
out = {"opened": opened, "crs": project.crs().authid(), "title": project.title(),
       "rights": project.metadata().rights() if hasattr(project.metadata(), "rights") else project.metadata().abstract(), "layers": {}, "tree": []}


def walk(group, depth=0):
    for child in group.children():
        if child.nodeType() == 0:   # group
            out["tree"].append([depth, "group", child.name(), child.isVisible()])
            walk(child, depth + 1)
        else:
            out["tree"].append([depth, "layer", child.layerId(), child.isVisible()])


walk(project.layerTreeRoot())


def render(layers, extent, size, path_out=None, centre_radius=None):
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(project.crs())
    settings.setOutputSize(QSize(*size))
    settings.setOutputDpi(96)
    settings.setExtent(extent)
    settings.setBackgroundColor(QColor(255, 255, 255))
    settings.setFlag(QgsMapSettings.Antialiasing, False)
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    if path_out:
        image.save(path_out)
    colours = Counter()
    if centre_radius:    # every pixel of the disc in the middle (one symbol drawn there)
        cx, cy = image.width() // 2, image.height() // 2
        for y in range(cy - centre_radius, cy + centre_radius + 1):
            for x in range(cx - centre_radius, cx + centre_radius + 1):
                if (x - cx) ** 2 + (y - cy) ** 2 <= centre_radius ** 2:
                    colours[QColor(image.pixel(x, y)).name()] += 1
        return settings.scale(), colours
    for y in range(0, image.height(), 2):
        for x in range(0, image.width(), 2):
            colours[QColor(image.pixel(x, y)).name()] += 1
    return settings.scale(), colours


def extent_for(layer, scale, centre, width_px=600, height_px=450):
    """An extent of the project CRS, around ``centre``, drawn at ``scale``."""
    metres_per_px = scale * 0.0254 / 96
    half_w, half_h = width_px * metres_per_px / 2, height_px * metres_per_px / 2
    return QgsRectangle(centre[0] - half_w, centre[1] - half_h,
                        centre[0] + half_w, centre[1] + half_h), (width_px, height_px)


MEL = (704000.0, 7060000.0)


def dense_point(layer):
    """A feature of the layer near the middle of 300 of them (project CRS)."""
    from qgis.core import QgsCoordinateTransform, QgsFeatureRequest
    to_project = QgsCoordinateTransform(layer.crs(), project.crs(), project)
    points = []
    for feature in layer.getFeatures(QgsFeatureRequest().setLimit(300)):
        if feature.hasGeometry():
            p = to_project.transform(feature.geometry().centroid().asPoint())
            points.append((p.x(), p.y()))
    if not points:
        return MEL
    xs, ys = sorted(x for x, _ in points), sorted(y for _, y in points)
    mx, my = xs[len(xs) // 2], ys[len(ys) // 2]
    return min(points, key=lambda p: (p[0] - mx) ** 2 + (p[1] - my) ** 2)
for layer_id, layer in project.mapLayers().items():
    info = {"valid": layer.isValid(), "name": layer.name(), "source": layer.source(),
            "provider": layer.providerType(), "attribution": layer.attribution(),
            "rights": layer.metadata().rights(), "abstract": layer.abstract()}
    if layer.isValid():
        info["count"] = layer.featureCount()
        info["crs"] = layer.crs().authid()
        info["aliases"] = {f.name(): layer.attributeAlias(i) for i, f in enumerate(layer.fields())}
        info["scales"] = [layer.hasScaleBasedVisibility(), layer.minimumScale(),
                          layer.maximumScale()]
        renderer = layer.renderer()
        info["renderer"] = type(renderer).__name__
        rules = renderer.rootRule().children() if hasattr(renderer, "rootRule") else []
        info["rules"] = [[r.label(), r.filterExpression(), r.symbol().color().name(),
                          [sl.layerType() for sl in r.symbol().symbolLayers()]] for r in rules]
        info["labels"] = bool(layer.labelsEnabled() and layer.labeling())
        low, high = layer.minimumScale(), layer.maximumScale()
        if not layer.hasScaleBasedVisibility():
            low, high = 0, 0
        low = 0 if low >= 1e8 else low     # QGIS's « no limit »
        # a scale inside the range the project shows the layer at
        scale = 250000 if not low else (low * 0.6 if not high else (low * high) ** 0.5)
        if high and not low:
            scale = high * 3
        centre = MEL if scale > 60000 else dense_point(layer)
        # zoomed out: the whole MEL in view (every commune, so every class, is drawn)
        extent, size = (extent_for(layer, scale, centre, 900, 700) if scale > 60000
                        else extent_for(layer, scale, centre))
        image_path = os.path.join(workdir, f"{layer_id}.png")
        drawn_at, colours = render([layer], extent, size, image_path)
        info["render"] = {"scale": drawn_at, "colours": dict(colours.most_common(40)),
                          "white": colours.get("#ffffff", 0), "pixels": sum(colours.values())}
    out["layers"][layer_id] = info

for layer_id, (field, value) in json.loads(points).items():
    # one feature, found by its identifier: the rule QGIS gives it, and what it draws there
    from qgis.core import QgsCoordinateTransform, QgsFeatureRequest
    layer = project.mapLayer(layer_id)
    if layer is None or not layer.isValid():
        continue
    request = QgsFeatureRequest().setFilterExpression(f'"{field}" = \'{value}\'')
    found = list(layer.getFeatures(request))
    settings = QgsMapSettings()
    settings.setDestinationCrs(project.crs())
    context = QgsRenderContext.fromMapSettings(settings)
    renderer = layer.renderer().clone()
    renderer.startRender(context, layer.fields())
    labels = []
    for feature in found:
        keys = renderer.legendKeysForFeature(feature, context)
        labels += [item.label() for item in renderer.legendSymbolItems() if item.ruleKey() in keys]
    renderer.stopRender(context)
    entry = {"found": len(found), "rules": labels}
    if found:
        to_project = QgsCoordinateTransform(layer.crs(), project.crs(), project)
        p = to_project.transform(found[0].geometry().asPoint())
        extent = QgsRectangle(p.x() - 30, p.y() - 30, p.x() + 30, p.y() + 30)
        drawn_at, colours = render([layer], extent, (200, 200), centre_radius=5)
        entry["colours"] = dict(colours.most_common(12))
        entry["attributes"] = {k: found[0][k] for k in ("statut_secret", "nb_logements")}
        from qgis.core import (QgsConditionalStyle, QgsExpression, QgsExpressionContext,
                               QgsExpressionContextUtils)
        context = QgsExpressionContext(QgsExpressionContextUtils.globalProjectLayerScopes(layer))
        context.setFeature(found[0])
        entry["tip"] = QgsExpression.replaceExpressionText(layer.mapTipTemplate(), context)
        cell = QgsConditionalStyle.matchingConditionalStyle(
            layer.conditionalStyles().fieldStyles("nb_logements"), found[0]["nb_logements"],
            context)
        entry["cell"] = [cell.name(), cell.textColor().name(), cell.backgroundColor().name()] \
            if cell.isValid() else None
    out.setdefault("points", {})[layer_id] = entry

if styles_dir:
    for layer_id, layer in project.mapLayers().items():
        collection = layer_id[:-len("_portail_lls")]
        if not layer.isValid():
            continue
        found = out.setdefault("stylesheets", {})[collection] = {}
        for ext in ("qml", "sld"):
            copy = layer.clone()
            file_path = os.path.join(styles_dir, f"{collection}.{ext}")
            message, ok = (copy.loadNamedStyle(file_path) if ext == "qml"
                           else copy.loadSldStyle(file_path))
            renderer = copy.renderer()
            rules = renderer.rootRule().children() if hasattr(renderer, "rootRule") else []
            found[ext] = {"ok": ok, "message": message, "renderer": type(renderer).__name__,
                          "rules": [[r.label(), r.filterExpression(),
                                     r.symbol().color().name() if r.symbol() else None]
                                    for r in rules],
                          "scales": [copy.hasScaleBasedVisibility(), copy.minimumScale(),
                                     copy.maximumScale()]}

if shots:
    from qgis.core import QgsLayerTreeModel
    from qgis.gui import QgsAuthConfigEditor, QgsLayerTreeView
    view = QgsLayerTreeView()
    model = QgsLayerTreeModel(project.layerTreeRoot())   # kept: the view does not own it
    view.setModel(model)
    view.expandAll()
    view.resize(420, 560)
    view.show()
    app.processEvents()
    view.grab().save(os.path.join(shots, "qgis-projet-couches.png"))
    # Settings > Options > Authentication: the configuration and its identifier
    edit = QgsAuthConfigEditor(None, False, False)
    edit.resize(640, 300)
    edit.show()
    app.processEvents()
    edit.grab().save(os.path.join(shots, "qgis-projet-authentification.png"))
    shown = {node.layerId() for node in project.layerTreeRoot().findLayers() if node.isVisible()}
    visible = [lay for lay in project.layerTreeRoot().layerOrder() if lay.id() in shown]
    extent, size = extent_for(None, 120000, MEL, 900, 650)
    render([lay for lay in visible if lay is not None and lay.isValid()], extent, size,
           os.path.join(shots, "qgis-projet-carte.png"))

with open(os.path.join(workdir, "result.json"), "w") as kept:   # for a failing test's reader
    json.dump(out, kept, indent=1)
print("RESULT" + json.dumps(out), flush=True)
os._exit(0)
