/* The portal's map page (Leaflet, shipped with the project; see docs/carte.md).
 *
 * Scale by zoom: communes (zoom <= 11), IRIS (12-14, or QPV when chosen), résidences (>= 15).
 * Values come from /carte/api/couches/<layer> (published views only, geometries simplified
 * per zoom); the popup reads the full row from the OGC API items; the export runs the
 * `export` process (synchronous answer, or 201 + job to poll when asynchronous).
 */
(function () {
  "use strict";

  var ZOOM_IRIS = 12, ZOOM_RESIDENCE = 15;
  var REQUEST_ZOOM = { commune: 11, iris: 13, qpv: 13 };   // fixed simplification per scale
  var COLOURS = ["#fff5d6", "#fdd08a", "#f89a52", "#d9542c", "#8f1d12"];
  var NO_DATA = "#ffffff", NOT_APPLICABLE = "#f2f2f2";
  var DIVERGING = ["#2166ac", "#92c5de", "#f7f7f7", "#f4a582", "#b2182b"];
  var SYMBOL = { fill: "#c0392b", stroke: "#7f1d12", ground: "#f3efe6" };
  var SYMBOL_MAX_RADIUS = { commune: 24, iris: 14, qpv: 18, residence: 14 };

  // A count (« nb_… »: dwellings, households, allocations) rather than a rate or a mean.
  function isCount(indicator) { return /^nb_/.test(indicator.name); }

  function symbolRadius(value) {
    var s = state.symbols;
    if (!s) { return 6; }
    return Math.max(2, SYMBOL_MAX_RADIUS[s.scale] * Math.sqrt(Math.max(0, value) / s.max));
  }
  var SECRET = { S: true };   // the one public secrecy code: it never says why (docs/secret.md)

  var T = {
    fr: {
      titre: "Portail du logement locatif social — MEL", theme: "Thème", indicateur: "Indicateur",
      millesime: "Millésime", echelle: "Échelle", auto: "selon le zoom", communes: "Communes",
      residences: "Résidences", classes: "Classes", quantiles: "quantiles (effectifs égaux)",
      jenks: "seuils naturels (Jenks)", aide: "Aide", legende: "Légende", contexte: "Couches de contexte",
      selection: "Sélection et export", exporter: "Exporter (Excel)", vider: "Vider",
      "selection-aide": "Cliquez un territoire puis « Ajouter à la sélection ». Sans sélection, l'export porte sur toute la MEL (ou sur la vue, pour les résidences).",
      secret: "Secret statistique (données masquées, pas zéro)", sansobjet: "Sans objet à cette échelle",
      nonrenseigne: "Non renseigné", echelleCourante: "Échelle affichée : ",
      fiche: "Fiche", api: "Données (API)", ajouter: "Ajouter à la sélection", retirer: "retirer",
      chargement: "Chargement…", exportEnCours: "Export en cours…", exportFini: "Fichier téléchargé : ",
      exportErreur: "Export impossible : ", travail: "Travail d'export en file : ",
      residenceSecret: "Secret statistique (données masquées) : aucune donnée publiée pour cette résidence. Elle peut compter moins de 11 logements ou être masquée pour en protéger une autre ; le statut ne dit pas lequel.",
      masque: { S: "secret statistique (données masquées)", N: "sans objet à cette échelle", Z: "rien à compter (zéro)" },
      pasResidence: "Ce thème n'est jamais publié à l'échelle de la résidence : affichage par IRIS.",
      pasEchelle: "Indicateur non publié à cette échelle.",
      tronque: "Trop d'objets dans la vue : seuls les 3000 premiers sont dessinés ; zoomez.",
      zoomer: "zoomez pour afficher", aucun: "aucune valeur publiée", familles: "toutes les familles",
      copier: "Copier", copie: "Copié",
      classesMel: "Classes calculées sur les valeurs publiées de toute la MEL pour ce millésime.",
      classesFixes: "Classes calculées sur toute la MEL et tous les millésimes (fixes d'un millésime à l'autre).",
      fixes: "fixes entre millésimes", adresse: "Adresse", bailleur: "Bailleur", annee: "Année de construction",
      symbolesAide: "Effectifs : cercles proportionnels (surface selon la valeur, maximum de la MEL).",
      depuis: "Évolution depuis", sansEvolution: "pas d'évolution", evolution: "évolution",
      points: "points", evolutionAide: "Évolution calculée seulement là où le chiffre est publié aux deux millésimes ; classes sur toute la MEL.",
      tableauTitre: "Territoires de la vue", colTerritoire: "Territoire", colValeur: "Valeur", colRang: "Rang",
      colEcart: "Écart à la MEL", moyenneMel: "MEL : ", moyenneMelCompte: "moyenne MEL par territoire : ", nTerritoires: " territoire(s) dans la vue",
      exporterTableau: "Exporter le tableau (CSV)",
      partagerTitre: "Partager et imprimer", imprimer: "Imprimer ou PDF", png: "Image PNG",
      nord: "Nord en haut", imprimeLe: "Carte imprimée le ", echelleCarte: "Échelle : ",
      pngFait: "Image téléchargée : ",
      modes: "Modes de transport", lignes: "Lignes de métro et de tramway", stationTitre: "Résidences près d'une station",
      stationToutes: "toutes les résidences", stationMoins: "à moins de ",
      stationAide: "Distance à la station de métro ou de tramway la plus proche (proximite_residences).",
      stationAvis: "Seules les résidences à moins de {m} m d'une station de métro ou de tramway sont dessinées.",
      secretCourt: "secret", millesimeDe: "Millésime ", choixBouton: "Thème, indicateur, millésime",
      panneau: "Légende et outils", fermer: "Fermer", carteNom: "Carte", zoomAvant: "Zoom avant",
      zoomArriere: "Zoom arrière", famille: "Famille d'équipements",
      ouvrir: "Entrée : ouvrir la fiche résumée", partager: "Copier le lien de cette vue",
      lienCopie: "Lien copié : il rouvre cette vue (thème, indicateur, millésime, échelle, position, sélection).",
      rechercher: "Rechercher", rechercherAide: "Commune, IRIS, QPV, adresse, bailleur…",
      resultats: "Résultats de la recherche", aucunResultat: "Aucun résultat",
      nResultats: " résultat(s) ; flèches haut et bas pour choisir, Entrée pour aller",
      types: { commune: "Commune", iris: "IRIS", qpv: "QPV", residence: "Résidence", adresse: "Adresse" },
      ban: "Base Adresse Nationale"
    },
    en: {
      titre: "Social housing portal — MEL", theme: "Theme", indicateur: "Indicator",
      millesime: "Vintage", echelle: "Scale", auto: "by zoom", communes: "Communes",
      residences: "Residences", classes: "Classes", quantiles: "quantiles (equal counts)",
      jenks: "natural breaks (Jenks)", aide: "Help", legende: "Legend", contexte: "Context layers",
      selection: "Selection and export", exporter: "Export (Excel)", vider: "Clear",
      "selection-aide": "Click a territory, then “Add to selection”. Without a selection, the export covers the whole MEL (or the view, for residences).",
      secret: "Statistical secrecy (data hidden, not zero)", sansobjet: "Not applicable at this scale",
      nonrenseigne: "No value", echelleCourante: "Scale shown: ",
      fiche: "Sheet", api: "Data (API)", ajouter: "Add to selection", retirer: "remove",
      chargement: "Loading…", exportEnCours: "Export running…", exportFini: "File downloaded: ",
      exportErreur: "Export failed: ", travail: "Export job queued: ",
      residenceSecret: "Statistical secrecy (data hidden): no data published for this residence. It may have fewer than 11 dwellings or be hidden to protect another one; the status does not say which.",
      masque: { S: "statistical secrecy (data hidden)", N: "not applicable at this scale", Z: "nothing to count (zero)" },
      pasResidence: "This theme is never published per residence: shown by IRIS.",
      pasEchelle: "Indicator not published at this scale.",
      tronque: "Too many objects in view: only the first 3000 are drawn; zoom in.",
      zoomer: "zoom in to show", aucun: "no published value", familles: "all families",
      copier: "Copy", copie: "Copied",
      classesMel: "Classes computed over the published values of the whole MEL for this vintage.",
      classesFixes: "Classes computed over the whole MEL and every vintage (fixed from one vintage to the next).",
      fixes: "fixed across vintages", adresse: "Address", bailleur: "Landlord", annee: "Construction year",
      symbolesAide: "Counts: proportional circles (area by value, MEL maximum).",
      depuis: "Change since", sansEvolution: "no change", evolution: "change",
      points: "points", evolutionAide: "Change computed only where the figure is published in both vintages; classes over the whole MEL.",
      tableauTitre: "Territories in view", colTerritoire: "Territory", colValeur: "Value", colRang: "Rank",
      colEcart: "Gap to the MEL", moyenneMel: "MEL: ", moyenneMelCompte: "MEL average per territory: ", nTerritoires: " territory(ies) in view",
      exporterTableau: "Export the table (CSV)",
      partagerTitre: "Share and print", imprimer: "Print or PDF", png: "PNG image",
      nord: "North up", imprimeLe: "Map printed on ", echelleCarte: "Scale: ",
      pngFait: "Image downloaded: ",
      modes: "Transport modes", lignes: "Metro and tram lines", stationTitre: "Residences near a station",
      stationToutes: "all residences", stationMoins: "within ",
      stationAide: "Distance to the nearest metro or tram station (proximite_residences).",
      stationAvis: "Only residences within {m} m of a metro or tram station are drawn.",
      secretCourt: "secret", millesimeDe: "Vintage ", choixBouton: "Theme, indicator, vintage",
      panneau: "Legend and tools", fermer: "Close", carteNom: "Map", zoomAvant: "Zoom in",
      zoomArriere: "Zoom out", famille: "Facility family",
      ouvrir: "Enter: open the summary", partager: "Copy the link to this view",
      lienCopie: "Link copied: it reopens this view (theme, indicator, vintage, scale, position, selection).",
      rechercher: "Search", rechercherAide: "Commune, IRIS, QPV, address, landlord…",
      resultats: "Search results", aucunResultat: "No result",
      nResultats: " result(s); up and down arrows to choose, Enter to go",
      types: { commune: "Commune", iris: "IRIS", qpv: "QPV", residence: "Residence", adresse: "Address" },
      ban: "National address base (BAN)"
    }
  };

  var state = { lang: "fr", method: "quantiles", theme: null, indicator: null, millesime: null, scaleMode: "auto",
                selection: [], shownScale: null, catalog: null, firstRender: false };
  var cache = {};            // url -> GeoJSON
  var layers = { main: null, context: {} };
  var pending = null;        // AbortController of the main layer request
  var $ = function (id) { return document.getElementById(id); };
  var t = function (key) { return T[state.lang][key]; };
  var text = function (obj) { return obj ? (obj[state.lang] || obj.fr) : ""; };

  function fmt(value, unit) {
    if (value === null || value === undefined) { return ""; }
    var n = Number(value);
    var s = n.toLocaleString(state.lang === "fr" ? "fr-FR" : "en-GB",
                             { maximumFractionDigits: Number.isInteger(n) ? 0 : 1 });
    return unit ? s + " " + text(unit) : s;
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  // -- the map ---------------------------------------------------------------------------------
  var map = L.map("carte", { center: [50.64, 3.08], zoom: 11, minZoom: 9, maxZoom: 18,
                             zoomSnap: 1, preferCanvas: false });
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution(escapeHtml(window.CARTE_SOURCE));
  // Every control says what it does in the page's language (Leaflet's say « Zoom in »).
  function labelControls() {
    [[".leaflet-control-zoom-in", "zoomAvant"], [".leaflet-control-zoom-out", "zoomArriere"]].forEach(function (x) {
      var el = map.getContainer().querySelector(x[0]);
      if (el) { el.title = t(x[1]); el.setAttribute("aria-label", t(x[1])); }
    });
    var close = map.getContainer().querySelector(".leaflet-popup-close-button");
    if (close) { close.title = t("fermer"); close.setAttribute("aria-label", t("fermer")); }
  }
  map.on("popupopen", function () { state.popupOpen = true; document.body.classList.add("popup-ouvert"); labelControls(); });
  map.on("popupclose", function () { state.popupOpen = false; document.body.classList.remove("popup-ouvert"); });
  // Escape closes the popup wherever the focus is, and gives the focus back to the territory.
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape" || !state.popupOpen) { return; }
    map.closePopup();
    if (state.popupOrigin && document.contains(state.popupOrigin)) { state.popupOrigin.focus(); }
    state.popupOrigin = null;
  });
  // A double click zooms; it must not also open a popup: a click waits for a possible second.
  var clickTimer = null;
  map.on("dblclick zoomstart", function () { clearTimeout(clickTimer); clickTimer = null; });
  function onSingleClick(e, action) {
    if (e.originalEvent && e.originalEvent.detail > 1) { clearTimeout(clickTimer); clickTimer = null; return; }
    clearTimeout(clickTimer);
    clickTimer = setTimeout(function () { clickTimer = null; action(); }, 280);
  }
  var busy = L.DomUtil.create("div", "chargement", map.getContainer());
  busy.hidden = true;
  map.createPane("contextes").style.zIndex = 450;
  map.createPane("points").style.zIndex = 620;
  map.createPane("symboles").style.zIndex = 430;

  function scaleForView() {
    var zoom = map.getZoom();
    var theme = currentTheme();
    var scale = state.scaleMode;
    if (scale === "auto") {
      scale = zoom >= ZOOM_RESIDENCE ? "residence" : zoom >= ZOOM_IRIS ? "iris" : "commune";
    }
    var notice = null;
    if (!theme.layers[scale]) {
      notice = t("pasResidence");
      scale = "iris";
    }
    return { scale: scale, notice: notice };
  }

  function currentTheme() {
    return state.catalog.themes.find(function (th) { return th.name === state.theme; });
  }
  function currentIndicator() {
    return currentTheme().indicators.find(function (i) { return i.name === state.indicator; });
  }

  function viewBbox(pad) {
    var b = map.getBounds().pad(pad || 0);
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
      .map(function (v) { return v.toFixed(5); }).join(",");
  }

  function layerUrl(name, params) {
    var q = Object.keys(params).filter(function (k) { return params[k] !== null && params[k] !== undefined && params[k] !== ""; })
      .map(function (k) { return k + "=" + encodeURIComponent(params[k]); }).join("&");
    return "/carte/api/couches/" + encodeURIComponent(name) + "?" + q;
  }

  function fetchJson(url, signal) {
    if (cache[url]) { return Promise.resolve(cache[url]); }
    return fetch(url, { credentials: "same-origin", signal: signal }).then(function (r) {
      if (!r.ok) { return r.json().then(function (b) { throw new Error(b.description || r.status); }); }
      return r.json();
    }).then(function (data) {
      if (url.indexOf("bbox=") < 0) { cache[url] = data; }
      return data;
    });
  }

  // -- classes ----------------------------------------------------------------------------------
  function classOf(value, classes) {
    var i = 0;
    while (i < classes.breaks.length && value >= classes.breaks[i]) { i++; }
    return i;
  }

  function statusOf(props, indicator, scale) {
    var column = indicator.scales[scale];
    return column ? props[column] : null;
  }

  // -- the main layer ----------------------------------------------------------------------------
  function refresh() {
    if (!state.catalog) { return; }
    baseLines();
    saveView();
    var view = scaleForView();
    var theme = currentTheme();
    var layer = theme.layers[view.scale];
    var indicator = currentIndicator();
    var params = { millesime: state.millesime, champs: indicator.scales[view.scale] ? indicator.name : "" };
    if (view.scale === "residence") {
      params.zoom = map.getZoom();
      params.bbox = viewBbox(0.2);
      if (state.stationM) { params.station_m = state.stationM; }
    } else {
      params.zoom = REQUEST_ZOOM[view.scale];
    }
    var url = layerUrl(layer.name, params);
    var classesUrl = indicator.scales[view.scale] ? classesHref(layer.name, indicator.name) : null;
    // Change since an earlier millésime: territory scales only, both figures published.
    var sinceUrl = null;
    if (state.since && state.since !== state.millesime && view.scale !== "residence" && indicator.scales[view.scale]) {
      var p2 = Object.assign({}, params, { millesime: state.since });
      sinceUrl = layerUrl(layer.name, p2);
      classesUrl = null;
    }
    var key = url + "|" + classesUrl + "|" + sinceUrl;
    if (layers.mainUrl === key) { return; }
    if (pending) { pending.abort(); }
    pending = new AbortController();
    busy.textContent = t("chargement"); busy.hidden = false;
    var started = performance.now();
    Promise.all([fetchJson(url, pending.signal),
                 classesUrl ? fetchJson(classesUrl, pending.signal) : Promise.resolve(null),
                 sinceUrl ? fetchJson(sinceUrl, pending.signal) : Promise.resolve(null)])
      .then(function (answers) {
        var data = answers[0];
        busy.hidden = true;
        var limits = answers[1];
        if (answers[2]) { limits = applyChange(data, answers[2], layer, indicator); }
        state.change = answers[2] ? { since: answers[2].millesime } : null;
        draw(data, view, layer, indicator, limits);
        layers.mainUrl = key;
        if (!state.firstRender) {
          state.firstRender = true;
          performance.mark("carte-premier-rendu");
          window.carteRendu = { ms: performance.now(), fetchMs: performance.now() - started,
                                features: data.features.length };
        }
      }).catch(function (err) {
        if (err.name === "AbortError") { return; }
        busy.hidden = true;
        showNotice(err.message);
      });
  }

  // Class limits over the published values of the whole MEL (per indicator, scale and
  // millésime, or every millésime when « fixes »): the colours do not change on pan.
  function classesHref(layerName, field) {
    return "/carte/api/classes?couche=" + encodeURIComponent(layerName) + "&champ=" + encodeURIComponent(field) +
      "&millesime=" + encodeURIComponent(state.millesime || "") + "&methode=" + encodeURIComponent(state.method) +
      (state.fixed ? "&fixe=oui" : "");
  }

  function draw(data, view, layer, indicator, limits) {
    var scale = view.scale;
    var hasIndicator = !!indicator.scales[scale];
    var classes = limits && limits.count ? limits : null;
    state.classes = classes;
    var palette = state.change ? DIVERGING : COLOURS;
    var valueOf = function (p) { return state.change ? p.__evolution : p[indicator.name]; };
    // Counts are drawn as proportional symbols (area ∝ value, scaled on the MEL's maximum),
    // rates and means as colours.
    var symbols = !!(hasIndicator && !state.change && classes && isCount(indicator));
    state.symbols = symbols ? { max: Math.max(classes.max, 1), scale: scale } : null;
    function style(f) {
      var p = f.properties, v = valueOf(p), st = statusOf(p, indicator, scale);
      var fill = NO_DATA, cls = "";
      if (symbols && v !== null && v !== undefined) {
        fill = scale === "residence" ? SYMBOL.fill : SYMBOL.ground;
      } else if (hasIndicator && v !== null && v !== undefined) {
        fill = palette[classOf(Number(v), classes)];
      } else if (state.change && p[indicator.name] !== null && p[indicator.name] !== undefined) {
        fill = NO_DATA;   // published now, not in the earlier millésime: no change drawn
      } else if (SECRET[st] || SECRET[p.statut_secret]) {
        fill = "#d9d9d9"; cls = "secret";
      } else if (st === "N") {
        fill = NOT_APPLICABLE;
      }
      // Leaflet applies this style to points too (and their class when they are added).
      if (scale === "residence") {
        return { fillColor: fill, fillOpacity: 0.95, color: "#333", weight: 1, className: "residence " + cls };
      }
      return { fillColor: fill, fillOpacity: 0.85, color: "#5b6770", weight: scale === "commune" ? 1 : 0.6,
               className: "territoire " + cls };
    }
    var next = L.geoJSON(data, {
      style: style,
      pointToLayer: function (f, latlng) {
        var s = style(f), v = valueOf(f.properties);
        var radius = symbols && v !== null && v !== undefined ? symbolRadius(Number(v)) : 6;
        return L.circleMarker(latlng, { radius: radius, pane: "points", fillColor: s.fillColor,
                                        fillOpacity: symbols ? 0.75 : 0.95,
                                        color: "#333", weight: 1, className: "residence " + s.className });
      },
      onEachFeature: function (f, lay) {
        lay.on("click", function (e) { onSingleClick(e, function () { openPopup(f, lay, layer, scale, e.latlng); }); });
        // Keyboard: each territory is a focusable button; Enter or Space opens its popup.
        lay.on("add", function () {
          var el = lay.getElement && lay.getElement();
          if (!el) { return; }
          var p = f.properties;
          el.setAttribute("tabindex", "0");
          el.setAttribute("role", "button");
          el.setAttribute("aria-label", (p.nom || p[layer.key_field] || "") + " (" + text(state.catalog.scales[scale]) + ")");
          el.addEventListener("keydown", function (ev) {
            if (ev.key !== "Enter" && ev.key !== " ") { return; }
            ev.preventDefault();
            state.popupOrigin = el;
            openPopup(f, lay, layer, scale, lay.getLatLng ? lay.getLatLng() : lay.getBounds().getCenter());
          });
        });
      }
    });
    if (layers.main) { map.removeLayer(layers.main); }
    layers.main = next.addTo(map);
    if (layers.symbols) { map.removeLayer(layers.symbols); layers.symbols = null; }
    if (symbols && scale !== "residence") {
      var circles = [];
      next.eachLayer(function (lay) {
        var v = valueOf(lay.feature.properties);
        if (v === null || v === undefined || !lay.getBounds) { return; }
        circles.push([symbolRadius(Number(v)), lay.getBounds().getCenter()]);
      });
      circles.sort(function (a, b) { return b[0] - a[0]; });   // small ones on top
      layers.symbols = L.layerGroup(circles.map(function (c) {
        return L.circleMarker(c[1], { pane: "symboles", radius: c[0], fillColor: SYMBOL.fill, fillOpacity: 0.6,
                                      color: SYMBOL.stroke, weight: 1, interactive: false, className: "symbole" });
      })).addTo(map);
    }
    state.shownScale = scale;
    state.shownLayer = layer;
    document.body.dataset.echelle = scale;
    $("echelle-courante").textContent = t("echelleCourante") + text(state.catalog.scales[scale]) +
      " (" + data.features.length + ")";
    legend(classes, indicator, hasIndicator, data);
    openPending(next, layer, scale);
    nameSelection(next, layer, scale);
    state.lastDrawn = { layer: layer, indicator: indicator, scale: scale };
    state.drawnCount = data.features.length;
    renderTable();
    var notices = [];
    if (view.notice) { notices.push(view.notice); }
    if (!hasIndicator) { notices.push(t("pasEchelle")); }
    if (data.truncated) { notices.push(t("tronque")); }
    if (scale === "residence" && state.stationM) { notices.push(t("stationAvis").replace("{m}", state.stationM)); }
    showNotice(notices.join(" "));
  }

  function legend(classes, indicator, hasIndicator, data) {
    var unit = indicator.unit ? text(indicator.unit) : "";
    if (state.change && unit === "%") { unit = t("points"); }
    var html = "<div class='discret'><b>" + escapeHtml(text(indicator.label)) + "</b>" +
      (unit ? " (" + escapeHtml(unit) + ")" : "") +
      " — " + (state.change ? escapeHtml(t("evolution") + " " + state.change.since + " → " + data.millesime)
                            : escapeHtml(String(data.millesime || ""))) + "</div>";
    if (classes && hasIndicator) {
      html += "<div class='discret' id='legende-portee'>" + (state.change ? t("evolutionAide")
        : state.fixed ? t("classesFixes") : t("classesMel")) + "</div>";
    }
    if (classes && hasIndicator && state.symbols) {
      html += "<div class='discret'>" + t("symbolesAide") + "</div>";
      [1, 0.25, 0.0625].forEach(function (share) {
        var v = roundLimit(state.symbols.max * share), r = symbolRadius(v);
        html += "<div class='classe symbole-legende'><svg width='" + (2 * r + 2) + "' height='" + (2 * r + 2) +
          "' aria-hidden='true'><circle cx='" + (r + 1) + "' cy='" + (r + 1) + "' r='" + r + "' fill='" + SYMBOL.fill +
          "' fill-opacity='0.6' stroke='" + SYMBOL.stroke + "'/></svg>" + fmt(v) + "</div>";
      });
    } else if (classes && hasIndicator) {
      var bounds = [classes.min].concat(classes.breaks).concat([classes.max]);
      for (var i = 0; i < bounds.length - 1; i++) {
        html += "<div class='classe'><span class='pastille' style='background:" + (state.change ? DIVERGING : COLOURS)[i] +
          "'></span>" + (bounds[i] === bounds[i + 1] ? fmt(bounds[i])
          : fmt(bounds[i]) + " – " + (i === bounds.length - 2 ? "" : "< ") + fmt(bounds[i + 1])) + "</div>";
      }
    } else {
      html += "<div class='discret'>" + t("aucun") + "</div>";
    }
    html += "<div class='classe'><span class='pastille secret'></span>" + t("secret") + "</div>";
    html += "<div class='classe'><span class='pastille' style='background:" + NOT_APPLICABLE + "'></span>" + t("sansobjet") + "</div>";
    html += "<div class='classe'><span class='pastille' style='background:" + NO_DATA + "'></span>" + t("nonrenseigne") + "</div>";
    $("legende").innerHTML = html;
  }

  function showNotice(message) {
    $("avis").textContent = message || "";
    $("avis").hidden = !message;
  }

  // -- popup -------------------------------------------------------------------------------------
  function ficheHref(scale, code) {
    return "/fiche/" + encodeURIComponent(scale) + "/" + encodeURIComponent(code) +
      "?millesime=" + encodeURIComponent(state.millesime) + "&f=html";
  }

  function openPopup(feature, leafletLayer, layer, scale, latlng) {
    var p = feature.properties;
    var indicator = currentIndicator();
    var code = p[layer.key_field];
    var name = p.nom || code;
    var value = p[indicator.name];
    var st = statusOf(p, indicator, scale) || p.statut_secret;
    var line;
    if (scale === "residence" && SECRET[p.statut_secret]) {
      line = "<p class='cache'>" + t("residenceSecret") + "</p>";
    } else if (value !== null && value !== undefined) {
      line = "<p>" + escapeHtml(text(indicator.label)) + " : <b class='valeur'>" + fmt(value, indicator.unit) + "</b></p>";
    } else {
      line = "<p class='cache'>" + escapeHtml(text(indicator.label)) + " : " +
        escapeHtml(T[state.lang].masque[st] || t("nonrenseigne")) + (st ? " (" + st + ")" : "") + "</p>";
    }
    var apiHref = "/collections/" + encodeURIComponent(layer.name) + "/items/" + encodeURIComponent(feature.id) + "?f=html";
    var html = "<div class='popup'><h3>" + escapeHtml(name) + " <small>" + escapeHtml(code) + "</small></h3>" +
      "<p class='popup-millesime discret'>" + escapeHtml(text(currentTheme().title)) + " — " +
      t("millesimeDe") + escapeHtml(String(p.millesime || state.millesime)) + "</p>" +
      (scale === "residence" ? "<dl class='infos'></dl>" : "") + line +
      "<table class='chiffres'></table><div class='liens'>" +
      "<a class='lien-fiche' target='_blank' href='" + ficheHref(scale, code) + "'>" + t("fiche") + "</a>" +
      "<a class='lien-api' target='_blank' href='" + apiHref + "'>" + t("api") + "</a>" +
      (scale !== "residence" ? "<button type='button' class='ajouter'>" + t("ajouter") + "</button>" : "") +
      "</div></div>";
    // A DOM node (not a string): Leaflet keeps it when the popup is updated after the
    // figures below arrive.
    var node = document.createElement("div");
    node.innerHTML = html;
    var size = map.getSize();
    var popup = L.popup({ maxWidth: Math.max(200, Math.min(360, size.x - 60)),
                          maxHeight: Math.max(160, Math.min(340, size.y - 90)), autoPanPadding: [10, 10],
                          keepInView: true })
      .setLatLng(latlng).setContent(node).openOn(map);
    var add = node.querySelector(".ajouter");
    if (add) {
      add.addEventListener("click", function () {
        addToSelection(scale, code, name);
        map.closePopup();
      });
    }
    if (scale === "residence" && SECRET[p.statut_secret]) { return; }
    fetch("/collections/" + encodeURIComponent(layer.name) + "/items/" + encodeURIComponent(feature.id) + "?f=json",
          { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (item) {
        if (!item) { return; }
        var rows = "";
        // Every figure of the theme at this scale, for the millésime shown; a hidden one
        // says « secret » (never 0 nor « moins de 11 »).
        currentTheme().indicators.filter(function (i) { return i.scales[scale]; }).forEach(function (i) {
          var v = item.properties[i.name];
          var s = item.properties[i.scales[scale]];
          var shown;
          if (v !== null && v !== undefined) {
            shown = fmt(v, i.unit);
          } else if (SECRET[s]) {
            shown = "<span class='cache secret-valeur' title='" + escapeHtml(T[state.lang].masque.S) + "'>" + t("secretCourt") + "</span>";
          } else if (s === "N" || s === "Z") {
            shown = "<span class='cache'>" + escapeHtml(T[state.lang].masque[s]) + "</span>";
          } else {
            shown = "<span class='cache'>" + t("nonrenseigne") + "</span>";
          }
          rows += "<tr><td>" + escapeHtml(text(i.label)) + "</td><td class='v'>" + shown + "</td></tr>";
        });
        var infos = node.querySelector(".infos");
        if (infos) {
          var pr = item.properties;
          infos.innerHTML = [["adresse", pr.adresse], ["bailleur", pr.bailleur], ["annee", pr.annee_construction]]
            .filter(function (x) { return x[1] !== null && x[1] !== undefined && x[1] !== ""; })
            .map(function (x) { return "<dt>" + t(x[0]) + "</dt><dd class='" + x[0] + "'>" + escapeHtml(x[1]) + "</dd>"; }).join("");
        }
        var table = node.querySelector(".chiffres");
        if (table && popup.isOpen()) {
          table.innerHTML = rows;
          popup.update();   // new size: Leaflet pans the map so that the popup stays in view
          if (popup.options.autoPan && popup._adjustPan) { popup._adjustPan(); }
        }
      }).catch(function () { /* the popup keeps its main value */ });
  }

  // -- selection and export ----------------------------------------------------------------------
  function addToSelection(scale, code, name) {
    if (state.selection.length && state.selection[0].scale !== scale) { state.selection = []; }
    if (!state.selection.some(function (s) { return s.code === code; })) {
      state.selection.push({ scale: scale, code: code, name: name });
    }
    renderSelection();
  }

  function renderSelection() {
    saveView();
    var ul = $("selection");
    ul.innerHTML = "";
    state.selection.forEach(function (s, i) {
      var li = document.createElement("li");
      li.textContent = s.name + " (" + s.code + ")";
      var b = document.createElement("button");
      b.type = "button"; b.textContent = t("retirer");
      b.setAttribute("aria-label", t("retirer") + " " + s.name);
      b.addEventListener("click", function () { state.selection.splice(i, 1); renderSelection(); });
      li.appendChild(b);
      ul.appendChild(li);
    });
  }

  var TERRITORY_KEY = { commune: "communes", iris: "iris", qpv: "qpv" };

  function exportInputs() {
    var scale = state.selection.length ? state.selection[0].scale : state.shownScale;
    var layer = currentTheme().layers[scale] || state.shownLayer;
    var territory = "MEL";
    if (state.selection.length) {
      territory = {};
      territory[TERRITORY_KEY[scale]] = state.selection.map(function (s) { return s.code; });
    } else if (scale === "residence") {
      territory = { bbox: viewBbox(0).split(",").map(Number) };
    }
    return { layers: [layer.name], territory: territory, millesime: Number(state.millesime), format: "xlsx" };
  }

  function download(blob, name) {
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  function exportDone(response, name) {
    return response.blob().then(function (blob) {
      download(blob, name);
      setExportState(t("exportFini") + name, false);
    });
  }

  function setExportState(message, running) {
    $("export-etat").textContent = message;
    $("export-etat").classList.toggle("occupe", running);
    $("export").disabled = running;
  }

  function failure(response) {
    return response.text().then(function (body) {
      var message = String(response.status);
      try { message = JSON.parse(body).description || message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    });
  }

  // An asynchronous export (201 + Location: /jobs/{id}): poll the job, then fetch its result.
  function pollJob(location, name) {
    setExportState(t("travail") + location, true);
    return new Promise(function (resolve, reject) {
      function tick() {
        fetch(location + (location.indexOf("?") < 0 ? "?" : "&") + "f=json", { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : failure(r); })
          .then(function (job) {
            var status = (job.status || "").toLowerCase();
            if (status === "successful") {
              var results = (job.links || []).find(function (l) { return /results/.test(l.rel || "") || /results/.test(l.href || ""); });
              var href = results ? results.href : location.replace(/\/?$/, "/results");
              fetch(href, { credentials: "same-origin" })
                .then(function (r) { return r.ok ? exportDone(r, name) : failure(r); }).then(resolve, reject);
            } else if (status === "failed" || status === "dismissed") {
              reject(new Error(job.message || status));
            } else {
              setTimeout(tick, 1000);
            }
          }).catch(reject);
      }
      tick();
    });
  }

  function runExport() {
    var inputs = exportInputs();
    var name = "export-" + inputs.layers[0] + "-" + inputs.millesime + ".xlsx";
    setExportState(t("exportEnCours"), true);
    // The CSRF token of the session (auth/websession.py): needed when signed in by the form.
    var csrf = document.querySelector('meta[name="csrf-token"]');
    var headers = { "Content-Type": "application/json" };
    if (csrf) { headers["X-CSRFToken"] = csrf.getAttribute("content"); }
    fetch("/processes/export/execution", {
      method: "POST", credentials: "same-origin",
      headers: headers,
      body: JSON.stringify({ inputs: inputs })
    }).then(function (r) {
      if (r.status === 201 && r.headers.get("Location")) { return pollJob(r.headers.get("Location"), name); }
      if (!r.ok) { return failure(r); }
      return exportDone(r, name);
    }).catch(function (err) {
      setExportState(t("exportErreur") + err.message, false);
    });
  }

  // -- context layers ----------------------------------------------------------------------------
  var CONTEXT_STYLE = {
    etablissements_scolaires: { radius: 4, fillColor: "#2e7d32", color: "#1b5e20" },
    arrets_transport: { radius: 3, fillColor: "#1565c0", color: "#0d47a1" },
    equipements: { radius: 3, fillColor: "#8e24aa", color: "#4a148c" },
    qpv: { color: "#c2185b", weight: 2, fill: false, dashArray: "4 3" },
    communes: { color: "#37474f", weight: 1.2, fill: false }
  };
  var CONTEXT_MIN_ZOOM = { equipements: 13 };
  // Stops drawn by mode: metro and tram stations larger, named from zoom 14.
  var MODE_STYLE = {
    metro: { radius: 6, fillColor: "#d32f2f", color: "#7f0000" },
    tram: { radius: 5, fillColor: "#f57c00", color: "#8a4500" },
    bus: { radius: 3, fillColor: "#1565c0", color: "#0d47a1" }
  };
  var ZOOM_STATION_NAMES = 14;

  function buildContextPanel() {
    var box = $("contexte");
    box.innerHTML = "";
    Object.keys(state.catalog.context).forEach(function (name) {
      var spec = state.catalog.context[name];
      var label = document.createElement("label");
      var input = document.createElement("input");
      input.type = "checkbox"; input.id = "ctx-" + name; input.dataset.couche = name;
      input.checked = !!state.contextOn[name];
      input.addEventListener("change", function () { state.contextOn[name] = input.checked; refreshContext(name); });
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + text(spec.title)));
      var hint = document.createElement("span");
      hint.className = "discret"; hint.id = "ctx-info-" + name;
      label.appendChild(hint);
      box.appendChild(label);
      if (spec.modes) {
        var modes = document.createElement("div");
        modes.className = "modes"; modes.setAttribute("role", "group");
        modes.setAttribute("aria-label", t("modes"));
        Object.keys(spec.modes).forEach(function (mode) {
          var l = document.createElement("label");
          var c = document.createElement("input");
          c.type = "checkbox"; c.id = "ctx-mode-" + mode; c.checked = !state.modesOff[mode];
          c.addEventListener("change", function () { state.modesOff[mode] = !c.checked; refreshContext(name, true); });
          var dot = document.createElement("span");
          dot.className = "pastille-mode"; dot.style.background = MODE_STYLE[mode].fillColor;
          l.appendChild(c); l.appendChild(dot); l.appendChild(document.createTextNode(" " + text(spec.modes[mode])));
          modes.appendChild(l);
        });
        box.appendChild(modes);
      }
      if (spec.family_field) {
        var sel = document.createElement("select");
        sel.id = "ctx-famille";
        sel.setAttribute("aria-label", t("famille"));
        sel.innerHTML = "<option value=''>" + t("familles") + "</option>" + Object.keys(state.catalog.equipment_families).map(function (k) {
          return "<option value='" + k + "'>" + k + " — " + escapeHtml(text(state.catalog.equipment_families[k])) + "</option>";
        }).join("");
        sel.value = state.family || "";
        sel.addEventListener("change", function () { state.family = sel.value; refreshContext(name, true); });
        box.appendChild(sel);
      }
    });
  }

  function refreshContext(name, force) {
    var spec = state.catalog.context[name];
    var info = $("ctx-info-" + name);
    if (!state.contextOn[name]) {
      if (layers.context[name]) { map.removeLayer(layers.context[name]); layers.context[name] = null; }
      if (info) { info.textContent = ""; }
      return;
    }
    if (map.getZoom() < (CONTEXT_MIN_ZOOM[name] || 0)) {
      if (layers.context[name]) { map.removeLayer(layers.context[name]); layers.context[name] = null; }
      if (info) { info.textContent = " (" + t("zoomer") + ")"; }
      return;
    }
    var params = { zoom: spec.kind === "outline" ? 11 : map.getZoom() };
    if (spec.kind === "point") { params.bbox = viewBbox(0.1); }
    if (spec.family_field && state.family) { params.famille = state.family; }
    var url = layerUrl(name, params);
    var named = !!spec.modes && map.getZoom() >= ZOOM_STATION_NAMES;
    if (!force && layers.context[name] && layers.context[name].url === url
        && layers.context[name].named === named) { return; }
    fetchJson(url).then(function (data) {
      if (!state.contextOn[name]) { return; }
      var style = CONTEXT_STYLE[name];
      var modeOf = function (f) { return spec.mode_field ? f.properties[spec.mode_field] : null; };
      var next = L.geoJSON(data, {
        filter: function (f) { return !spec.modes || !state.modesOff[modeOf(f)]; },
        style: function (f) {
          return f.geometry.type === "Point" ? style : Object.assign({ pane: "contextes", interactive: false }, style);
        },
        pointToLayer: function (f, latlng) {
          var own = (spec.modes && MODE_STYLE[modeOf(f)]) || style;
          return L.circleMarker(latlng, Object.assign({ pane: "points", weight: 1, fillOpacity: 0.9,
                                                        className: "arret-" + (modeOf(f) || name) }, own));
        },
        onEachFeature: function (f, lay) {
          var label = f.properties[spec.label_field];
          if (!label || spec.kind !== "point") { return; }
          var mode = modeOf(f);
          var station = mode === "metro" || mode === "tram";
          label = String(label) + (mode && spec.modes && spec.modes[mode] ? " (" + text(spec.modes[mode]) + ")" : "");
          lay.bindTooltip(label, station && map.getZoom() >= ZOOM_STATION_NAMES
            ? { permanent: true, direction: "right", className: "nom-station", offset: [6, 0] } : {});
        }
      });
      if (layers.context[name]) { map.removeLayer(layers.context[name]); }
      next.url = url; next.named = named;
      layers.context[name] = next.addTo(map);
      if (info) { info.textContent = " (" + data.features.length + (data.truncated ? "+" : "") + ")"; }
    }).catch(function (err) { if (info) { info.textContent = " (" + err.message + ")"; } });
  }

  function refreshAllContext() {
    Object.keys(state.catalog.context).forEach(function (name) { refreshContext(name); });
  }

  // -- choices -----------------------------------------------------------------------------------
  function fillThemes() {
    $("theme").innerHTML = state.catalog.themes.map(function (th) {
      return "<option value='" + th.name + "'>" + escapeHtml(text(th.title)) + "</option>";
    }).join("");
    $("theme").value = state.theme;
  }

  function fillIndicators() {
    var theme = currentTheme();
    $("indicateur").innerHTML = theme.indicators.map(function (i) {
      return "<option value='" + i.name + "' title='" + escapeHtml(text(i.definition)) + "'>" + escapeHtml(text(i.label)) + "</option>";
    }).join("");
    if (!theme.indicators.some(function (i) { return i.name === state.indicator; })) {
      state.indicator = theme.indicators[0].name;
    }
    $("indicateur").value = state.indicator;
  }

  function fillMillesimes() {
    var theme = currentTheme();
    var years = {};
    Object.keys(theme.layers).forEach(function (scale) {
      (state.catalog.millesimes[theme.layers[scale].name] || []).forEach(function (y) { years[y] = true; });
    });
    var list = Object.keys(years).map(Number).sort(function (a, b) { return b - a; });
    $("millesime").innerHTML = list.map(function (y) { return "<option>" + y + "</option>"; }).join("");
    if (list.indexOf(Number(state.millesime)) < 0) { state.millesime = list[0]; }
    $("millesime").value = state.millesime;
  }

  function applyLanguage() {
    document.documentElement.lang = state.lang;
    document.querySelectorAll("[data-i18n]").forEach(function (el) {
      var value = T[state.lang][el.dataset.i18n];
      if (value) { el.textContent = value; }
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (el) {
      el.placeholder = T[state.lang][el.dataset.i18nPlaceholder] || el.placeholder;
    });
    document.querySelectorAll("[data-i18n-label]").forEach(function (el) {
      el.setAttribute("aria-label", T[state.lang][el.dataset.i18nLabel] || el.getAttribute("aria-label"));
    });
    document.querySelectorAll("#aide [data-lang]").forEach(function (el) { el.hidden = el.dataset.lang !== state.lang; });
    $("langue").textContent = state.lang === "fr" ? "English" : "Français";
    $("langue").setAttribute("lang", state.lang === "fr" ? "en" : "fr");
    labelControls();
    labelNorth();
    $("copier").textContent = t("copier");
    if (state.catalog) {
      fillThemes(); fillIndicators(); buildContextPanel(); renderSelection();
      layers.mainUrl = null; refresh();
    }
  }

  function start(catalog) {
    state.catalog = catalog;
    state.theme = catalog.themes[0].name;
    state.indicator = catalog.themes[0].indicators[0].name;
    state.contextOn = { communes: true, qpv: true };
    state.modesOff = state.modesOff || {};
    startBackground(catalog.background || {});
    $("url-api").value = catalog.api || window.location.origin;
    state.restoring = true;
    restoreView(catalog);
    state.restoring = false;
    if (state.lang !== "fr") { applyLanguage(); }
    fillThemes(); fillIndicators(); fillMillesimes(); fillSince(); buildContextPanel(); renderSelection();
    $("theme").addEventListener("change", function () {
      state.theme = $("theme").value; fillIndicators(); fillMillesimes(); fillSince(); refresh();
    });
    $("indicateur").addEventListener("change", function () { state.indicator = $("indicateur").value; refresh(); });
    $("millesime").addEventListener("change", function () { state.millesime = Number($("millesime").value); fillSince(); refresh(); baseLines(); });
    $("echelle").addEventListener("change", function () { state.scaleMode = $("echelle").value; refresh(); });
    $("classes").addEventListener("change", function () {
      state.method = $("classes").value; layers.mainUrl = null; refresh();
    });
    $("station").addEventListener("change", function () {
      state.stationM = Number($("station").value) || null; refresh();
    });
    $("classes-fixes").addEventListener("change", function () {
      state.fixed = $("classes-fixes").checked; layers.mainUrl = null; refresh();
    });
    map.on("moveend", function () { refresh(); refreshAllContext(); renderTable(); });
    $("depuis").addEventListener("change", function () { state.since = Number($("depuis").value) || null; refresh(); });
    $("tableau-export").addEventListener("click", exportTable);
    refresh();
    refreshAllContext();
  }


  // -- background and place names ----------------------------------------------------------------
  // By default the background is the portal's own data (closed network: no tile server):
  // commune and QPV outlines (context layers), metro and tram stations, and place names at
  // every scale (communes; IRIS from zoom 14; stations from zoom 15), placed without overlap.
  // PORTAIL_FOND_URL = plan-ign | osm | an XYZ template draws tiles instead, with attribution.
  var fond = { names: {}, labels: null, stations: null, stationsUrl: null, own: true, lines: null, linesUrl: null };
  map.createPane("fond-lignes").style.zIndex = 605;   // under the stations
  map.createPane("fond").style.zIndex = 610;
  var labelPane = map.createPane("etiquettes");
  labelPane.style.zIndex = 640; labelPane.style.pointerEvents = "none";
  labelPane.setAttribute("aria-hidden", "true");
  var ZOOM_IRIS_NAMES = 14, ZOOM_BASE_STATIONS = 13, ZOOM_STATION_LABELS = 15;

  function startBackground(bg) {
    fond.own = bg.kind !== "tuiles" || !bg.url;
    document.body.dataset.fond = fond.own ? "portail" : (bg.name || "tuiles");
    if (!fond.own) {
      L.tileLayer(bg.url, { attribution: escapeHtml(bg.attribution || ""), maxZoom: bg.max_zoom || 19 }).addTo(map);
    }
    fond.labels = L.layerGroup().addTo(map);
    map.on("moveend", refreshBackground);
    refreshBackground();
  }

  function loadNames(scale) {
    if (!fond.names[scale]) {
      fond.names[scale] = fetchJson("/carte/api/noms/" + scale).then(function (b) { return b.noms; })
        .catch(function () { return []; });
    }
    return fond.names[scale];
  }

  function baseStations() {
    var z = map.getZoom();
    if (!fond.own || z < ZOOM_BASE_STATIONS || !state.catalog.context.arrets_transport) {
      if (fond.stations) { map.removeLayer(fond.stations); fond.stations = null; fond.stationsUrl = null; }
      return Promise.resolve([]);
    }
    var url = layerUrl("arrets_transport", { zoom: z, bbox: viewBbox(0.1) });
    if (fond.stations && fond.stationsUrl === url) { return Promise.resolve(fond.stations.names); }
    return fetchJson(url).then(function (data) {
      var names = [], group = L.layerGroup();
      data.features.forEach(function (f) {
        var mode = f.properties.mode;
        if (mode !== "metro" && mode !== "tram") { return; }
        var ll = L.latLng(f.geometry.coordinates[1], f.geometry.coordinates[0]);
        L.circleMarker(ll, { pane: "fond", radius: 4, weight: 2, color: mode === "metro" ? "#b71c1c" : "#e65100",
                             fillColor: "#ffffff", fillOpacity: 1, interactive: false, className: "fond-station" }).addTo(group);
        names.push({ nom: f.properties.stop_name, lat: ll.lat, lon: ll.lng });
      });
      if (fond.stations) { map.removeLayer(fond.stations); }
      group.names = names;
      fond.stations = group.addTo(map); fond.stationsUrl = url;
      return names;
    }).catch(function () { return []; });
  }

  // Metro and tram lines of the network's millésime shown (the newest not after the
  // theme's millésime, else the oldest loaded), coloured by line (route_color, or the
  // mode's colour), named in the legend.
  var LINE_COLOURS = { metro: "#b71c1c", tram: "#e65100" };

  function linesMillesime() {
    var list = (state.catalog.millesimes || {}).lignes_transport || [];   // newest first
    var shown = Number(state.millesime);
    for (var i = 0; i < list.length; i++) { if (!shown || list[i] <= shown) { return list[i]; } }
    return list.length ? list[list.length - 1] : null;
  }

  function lineColour(p) {
    return /^[0-9A-Fa-f]{6}$/.test(p.route_color || "") ? "#" + p.route_color : (LINE_COLOURS[p.mode] || "#555555");
  }

  function lineName(p) {
    var spec = (state.catalog.fond || {}).lignes_transport || {};
    var mode = spec.modes && spec.modes[p.mode] ? text(spec.modes[p.mode]) : p.mode;
    return mode + " " + (p.route_short_name || p.route_id) + (p.route_long_name ? " — " + p.route_long_name : "");
  }

  function linesLegend(data) {
    var box = $("legende-lignes");
    if (!data) { box.hidden = true; box.innerHTML = ""; return; }
    var seen = {}, html = "<div class='discret'><b>" + escapeHtml(t("lignes")) + "</b> — " + escapeHtml(String(data.millesime || "")) + "</div>";
    data.features.forEach(function (f) {
      var p = f.properties;
      if (seen[p.route_id]) { return; }
      seen[p.route_id] = true;
      html += "<div class='classe ligne-legende'><span class='trait-ligne' style='background:" + lineColour(p) +
        "'></span>" + escapeHtml(lineName(p)) + "</div>";
    });
    box.innerHTML = html; box.hidden = false;
  }

  function baseLines() {
    if (!fond || !fond.labels || !state.catalog) { return; }   // the background has not started yet
    var spec = (state.catalog.fond || {}).lignes_transport;
    var year = spec ? linesMillesime() : null;
    if (!fond.own || !year) {
      if (fond.lines) { map.removeLayer(fond.lines); fond.lines = null; fond.linesUrl = null; }
      linesLegend(null);
      return;
    }
    var url = layerUrl("lignes_transport", { zoom: Math.max(10, Math.min(map.getZoom(), 16)), millesime: year });
    if (fond.linesUrl === url) { return; }
    fond.linesUrl = url;
    fetchJson(url).then(function (data) {
      if (fond.linesUrl !== url) { return; }
      var next = L.geoJSON(data, {
        pane: "fond-lignes", interactive: false,
        style: function (f) {
          return { color: lineColour(f.properties), weight: f.properties.mode === "metro" ? 4 : 3, opacity: 0.85,
                   className: "fond-ligne fond-ligne-" + f.properties.mode };
        }
      });
      if (fond.lines) { map.removeLayer(fond.lines); }
      fond.lines = next.addTo(map);
      linesLegend(data);
    }).catch(function () { linesLegend(null); });
  }

  function refreshBackground() {
    if (!state.catalog) { return; }
    baseLines();
    var z = map.getZoom();
    var wanted = [loadNames("commune"), z >= ZOOM_IRIS_NAMES ? loadNames("iris") : Promise.resolve([]), baseStations()];
    Promise.all(wanted).then(function (lists) {
      if (map.getZoom() !== z) { return; }
      fond.labels.clearLayers();
      var placed = [], seen = {};
      var bounds = map.getBounds();
      var kinds = ["commune", "iris", "station"];
      lists.forEach(function (list, k) {
        if (k === 2 && z < ZOOM_STATION_LABELS) { return; }
        list.forEach(function (n) {
          if (k === 0 && z <= 10 && (n.poids || 0) < 15000) { return; }
          if (seen[kinds[k] + n.nom]) { return; }
          var ll = L.latLng(n.lat, n.lon);
          if (!bounds.contains(ll)) { return; }
          var pt = map.latLngToContainerPoint(ll);
          var w = n.nom.length * (k === 0 ? 7 : 6) + 8, h = k === 0 ? 16 : 14;
          var box = [pt.x - w / 2, pt.y - h / 2, pt.x + w / 2, pt.y + h / 2];
          if (placed.some(function (b) { return !(box[2] < b[0] || box[0] > b[2] || box[3] < b[1] || box[1] > b[3]); })) { return; }
          placed.push(box); seen[kinds[k] + n.nom] = true;
          L.marker(ll, { pane: "etiquettes", interactive: false, keyboard: false,
                         icon: L.divIcon({ className: "etiquette etiquette-" + kinds[k], html: escapeHtml(n.nom), iconSize: [w, h] }) })
            .addTo(fond.labels);
        });
      });
    });
  }

  // -- change between two millésimes ------------------------------------------------------------
  // Computed per territory only where the figure is published in both millésimes (a hidden
  // figure in either gives no change); limits: quantiles over every territory of the MEL.
  function applyChange(data, before, layer, indicator) {
    var old = {};
    before.features.forEach(function (f) { old[f.properties[layer.key_field]] = f.properties[indicator.name]; });
    var values = [];
    data.features.forEach(function (f) {
      var now = f.properties[indicator.name], then = old[f.properties[layer.key_field]];
      var ok = now !== null && now !== undefined && then !== null && then !== undefined;
      f.properties.__evolution = ok ? Math.round((Number(now) - Number(then)) * 100) / 100 : null;
      if (ok) { values.push(f.properties.__evolution); }
    });
    return changeClasses(values);
  }

  function roundLimit(v) {
    if (v === 0) { return 0; }
    var step = Math.pow(10, Math.floor(Math.log10(Math.abs(v))) - 1);
    return Math.round(v / step) * step;
  }

  function changeClasses(values) {
    if (!values.length) { return { count: 0, breaks: [] }; }
    var v = values.slice().sort(function (a, b) { return a - b; });
    var k = DIVERGING.length, breaks = [];
    for (var i = 1; i < k; i++) {
      var b = roundLimit(v[Math.min(v.length - 1, Math.floor(i * v.length / k))]);
      if (b > v[0] && b <= v[v.length - 1] && (!breaks.length || b > breaks[breaks.length - 1])) { breaks.push(b); }
    }
    return { min: v[0], max: v[v.length - 1], breaks: breaks, count: v.length };
  }

  function fillSince() {
    var current = Number(state.millesime);
    var years = Array.prototype.map.call($("millesime").options, function (o) { return Number(o.value); })
      .filter(function (y) { return y < current; });
    $("depuis").innerHTML = "<option value=''>" + t("sansEvolution") + "</option>" +
      years.map(function (y) { return "<option value='" + y + "'>" + y + "</option>"; }).join("");
    if (years.indexOf(Number(state.since)) < 0) { state.since = null; }
    $("depuis").value = state.since ? String(state.since) : "";
  }

  // -- the table of the territories in view -----------------------------------------------------
  // Value, rank among the territories of the layer drawn (the whole MEL for communes, IRIS and
  // QPV), gap to the MEL's published figure; sortable; exported as CSV with the source.
  var melCache = {};
  function melValue(indicator) {
    var theme = currentTheme();
    if (!theme.mel || state.change) { return Promise.resolve(null); }
    var url = "/collections/" + encodeURIComponent(theme.mel) + "/items?f=json&limit=1&datetime=" +
      encodeURIComponent(state.millesime);
    var hit = melCache[url] || fetchJson(url).then(function (body) {
      var f = body.features && body.features[0];
      return f ? f.properties : null;
    }).catch(function () { return null; });
    melCache[url] = hit;
    return hit.then(function (props) {
      if (!props) { return null; }
      var v = props[indicator.name];
      return v === null || v === undefined ? null : Number(v);
    });
  }

  function tableRows() {
    var info = state.lastDrawn;
    if (!info || !layers.main) { return []; }
    var indicator = info.indicator, scale = info.scale, key = info.layer.key_field;
    var bounds = map.getBounds();
    var all = [];
    layers.main.eachLayer(function (lay) {
      var p = lay.feature.properties;
      var v = state.change ? p.__evolution : p[indicator.name];
      var inView = lay.getLatLng ? bounds.contains(lay.getLatLng()) : bounds.intersects(lay.getBounds());
      all.push({ code: String(p[key]), name: p.nom || String(p[key]), value: v === null || v === undefined ? null : Number(v),
                 status: statusOf(p, indicator, scale) || p.statut_secret, inView: inView });
    });
    var ranked = all.filter(function (r) { return r.value !== null; }).sort(function (a, b) { return b.value - a.value; });
    ranked.forEach(function (r, i) { r.rank = i + 1; });
    state.rankOf = ranked.length;
    return all.filter(function (r) { return r.inView; });
  }

  var SORT_KEYS = ["name", "value", "rank", "gap"];
  function renderTable() {
    var info = state.lastDrawn;
    var box = $("tableau");
    if (!info) { box.innerHTML = ""; return; }
    var indicator = info.indicator;
    melValue(indicator).then(function (mel) {
      var rows = tableRows();
      // For a count the MEL reference is the average per territory (the MEL's published total
      // over the number of territories of the scale, the whole MEL being drawn); for a rate or
      // a mean, the MEL's own published figure.
      var count = isCount(indicator);
      if (mel !== null && count) {
        mel = info.scale !== "residence" && state.drawnCount ? Math.round(100 * mel / state.drawnCount) / 100 : null;
      }
      rows.forEach(function (r) { r.gap = r.value !== null && mel !== null ? Math.round((r.value - mel) * 100) / 100 : null; });
      var sort = state.sort || { key: "rank", dir: "asc" };
      rows.sort(function (a, b) {
        var x = a[sort.key], y = b[sort.key];
        if (x === null || x === undefined) { return 1; }
        if (y === null || y === undefined) { return -1; }
        var c = typeof x === "string" ? x.localeCompare(y, "fr") : x - y;
        return sort.dir === "asc" ? c : -c;
      });
      state.tableRows = rows; state.tableMel = mel;
      var labels = { name: t("colTerritoire"), value: t("colValeur"), rank: t("colRang") + " (/" + state.rankOf + ")", gap: t("colEcart") };
      var head = "<thead><tr>" + SORT_KEYS.map(function (k) {
        var aria = sort.key === k ? (sort.dir === "asc" ? "ascending" : "descending") : "none";
        return "<th scope='col' aria-sort='" + aria + "'><button type='button' data-tri='" + k + "'>" + escapeHtml(labels[k]) +
          (sort.key === k ? (sort.dir === "asc" ? " ▲" : " ▼") : "") + "</button></th>";
      }).join("") + "</tr></thead>";
      var body = rows.slice(0, 300).map(function (r) {
        var value = r.value !== null ? fmt(r.value) : "<span class='cache'>" + (SECRET[r.status] ? t("secretCourt") : escapeHtml(T[state.lang].masque[r.status] || t("nonrenseigne"))) + "</span>";
        return "<tr data-code='" + escapeHtml(r.code) + "'><th scope='row'>" + escapeHtml(r.name) + "</th><td class='v'>" + value +
          "</td><td class='v'>" + (r.rank || "—") + "</td><td class='v'>" + (r.gap !== null ? (r.gap > 0 ? "+" : "") + fmt(r.gap) : "—") + "</td></tr>";
      }).join("");
      box.innerHTML = "<caption>" + escapeHtml(text(indicator.label)) + " — " + escapeHtml(String(state.millesime)) +
        (mel !== null ? " — " + (count ? t("moyenneMelCompte") : t("moyenneMel")) + fmt(mel, indicator.unit) : "") + "</caption>" + head + "<tbody>" + body + "</tbody>";
      box.querySelectorAll("button[data-tri]").forEach(function (b) {
        b.addEventListener("click", function () {
          var k = b.dataset.tri;
          state.sort = { key: k, dir: state.sort && state.sort.key === k && state.sort.dir === "asc" ? "desc" : "asc" };
          renderTable();
          var again = $("tableau").querySelector("button[data-tri='" + k + "']");
          if (again) { again.focus(); }
        });
      });
      $("tableau-etat").textContent = rows.length + t("nTerritoires");
    });
  }

  function exportTable() {
    var rows = state.tableRows || [];
    var info = state.lastDrawn;
    if (!info) { return; }
    var q = function (x) { return "\"" + String(x === null || x === undefined ? "" : x).replace(/"/g, "\"\"") + "\""; };
    var num = function (x) { return x === null || x === undefined ? "" : String(x).replace(".", ","); };
    var lines = [q(window.CARTE_SOURCE),
                 q(text(info.indicator.label) + " — " + state.millesime + (state.change ? " (" + t("evolution") + " " + state.change.since + ")" : "")),
                 ["code", "territoire", "valeur", "statut", "rang", "ecart_mel"].map(q).join(";")];
    rows.forEach(function (r) {
      lines.push([q(r.code), q(r.name), num(r.value), q(r.value === null ? (r.status || "") : "P"), num(r.rank), num(r.gap)].join(";"));
    });
    download(new Blob(["\ufeff" + lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" }),
             "tableau-" + state.indicator + "-" + state.millesime + ".csv");
  }

  // -- print, PDF and PNG ------------------------------------------------------------------------
  // The printed map carries its title (indicator, millésime, scale), the legend, a scale bar,
  // the north, the date and the source mention; the PNG draws the same on a canvas.
  var scaleBar = L.control.scale({ metric: true, imperial: false, position: "bottomleft", maxWidth: 150 }).addTo(map);
  var North = L.Control.extend({
    options: { position: "topright" },
    onAdd: function () {
      var div = L.DomUtil.create("div", "nord leaflet-bar");
      div.setAttribute("role", "img");
      div.innerHTML = "<span aria-hidden='true'>▲<br>N</span>";
      return div;
    }
  });
  var north = new North().addTo(map);
  function labelNorth() {
    var el = north.getContainer();
    el.setAttribute("aria-label", t("nord")); el.title = t("nord");
  }
  labelNorth();

  function today() {
    return new Date().toLocaleDateString(state.lang === "fr" ? "fr-FR" : "en-GB");
  }

  function printTitle() {
    var indicator = currentIndicator();
    var scale = state.shownScale ? text(state.catalog.scales[state.shownScale]) : "";
    return text(indicator.label) + " — " + t("millesime") + " " + state.millesime + " — " + scale;
  }

  function preparePrint() {
    $("impression-titre").textContent = printTitle();
    $("impression-detail").textContent = t("imprimeLe") + today() + " — " + window.CARTE_SOURCE;
    map.invalidateSize();
  }
  window.addEventListener("beforeprint", preparePrint);

  function mapSvgImages() {
    // Each Leaflet SVG renderer (one per pane), with the hatching pattern inlined.
    var box = map.getContainer().getBoundingClientRect();
    var defs = document.querySelector("svg defs");
    return Array.prototype.map.call(map.getContainer().querySelectorAll("svg.leaflet-zoom-animated"), function (svg) {
      var r = svg.getBoundingClientRect();
      var copy = svg.cloneNode(true);
      copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
      copy.setAttribute("width", r.width); copy.setAttribute("height", r.height);
      copy.style.transform = "";
      if (defs) { copy.insertBefore(defs.cloneNode(true), copy.firstChild); }
      copy.querySelectorAll("path.secret").forEach(function (p) { p.setAttribute("fill", "url(#hachures-secret)"); });
      var url = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(new XMLSerializer().serializeToString(copy));
      return { url: url, x: r.left - box.left, y: r.top - box.top, w: r.width, h: r.height };
    });
  }

  function loadImage(url) {
    return new Promise(function (resolve, reject) {
      var img = new Image();
      img.onload = function () { resolve(img); };
      img.onerror = reject;
      img.src = url;
    });
  }

  function exportPng() {
    var size = map.getSize();
    var legendRows = [];
    var c = state.classes;
    if (state.symbols) {
      legendRows.push([SYMBOL.fill, "○ " + t("symbolesAide")]);
    } else if (c && c.count) {
      var bounds = [c.min].concat(c.breaks).concat([c.max]);
      for (var i = 0; i < bounds.length - 1; i++) {
        legendRows.push([COLOURS[i], fmt(bounds[i]) + " – " + fmt(bounds[i + 1])]);
      }
    }
    legendRows.push(["#d9d9d9", t("secret")]);
    var margin = 16, header = 48, footer = 40, legendWidth = 260;
    var canvas = document.createElement("canvas");
    var scale = window.devicePixelRatio || 1;
    var width = size.x + legendWidth + 2 * margin, height = Math.max(size.y, legendRows.length * 22 + 40) + header + footer;
    canvas.width = width * scale; canvas.height = height * scale;
    var ctx = canvas.getContext("2d");
    ctx.scale(scale, scale);
    ctx.fillStyle = "#ffffff"; ctx.fillRect(0, 0, width, height);
    ctx.fillStyle = "#1d2733"; ctx.font = "bold 16px sans-serif";
    ctx.fillText(printTitle(), margin, 28);
    ctx.fillStyle = "#eef2f4"; ctx.fillRect(margin, header, size.x, size.y);
    return Promise.all(mapSvgImages().map(function (part) {
      return loadImage(part.url).then(function (img) { return { img: img, part: part }; });
    })).then(function (parts) {
      ctx.save();
      ctx.beginPath(); ctx.rect(margin, header, size.x, size.y); ctx.clip();
      parts.forEach(function (p) { ctx.drawImage(p.img, margin + p.part.x, header + p.part.y, p.part.w, p.part.h); });
      ctx.restore();
      ctx.strokeStyle = "#5b6770"; ctx.strokeRect(margin, header, size.x, size.y);
      // north
      var nx = margin + size.x - 30, ny = header + 16;
      ctx.fillStyle = "#1d2733"; ctx.beginPath(); ctx.moveTo(nx, ny); ctx.lineTo(nx - 8, ny + 18); ctx.lineTo(nx + 8, ny + 18); ctx.fill();
      ctx.font = "bold 13px sans-serif"; ctx.fillText("N", nx - 5, ny + 34);
      // scale bar from the map's own control
      var bar = scaleBar.getContainer().querySelector(".leaflet-control-scale-line");
      if (bar) {
        var bw = bar.offsetWidth, bx = margin + 10, by = header + size.y - 14;
        ctx.fillStyle = "#ffffff"; ctx.fillRect(bx - 4, by - 16, bw + 8, 22);
        ctx.strokeStyle = "#1d2733"; ctx.beginPath(); ctx.moveTo(bx, by - 6); ctx.lineTo(bx, by); ctx.lineTo(bx + bw, by); ctx.lineTo(bx + bw, by - 6); ctx.stroke();
        ctx.fillStyle = "#1d2733"; ctx.font = "11px sans-serif"; ctx.fillText(bar.textContent, bx + 4, by - 4);
      }
      // legend
      var lx = margin * 2 + size.x, ly = header + 4;
      ctx.font = "bold 13px sans-serif"; ctx.fillText(t("legende"), lx, ly + 12);
      ctx.font = "12px sans-serif";
      legendRows.forEach(function (row, k) {
        var y = ly + 28 + k * 22;
        ctx.fillStyle = row[0]; ctx.fillRect(lx, y - 11, 22, 14);
        ctx.strokeStyle = "#888"; ctx.strokeRect(lx, y - 11, 22, 14);
        ctx.fillStyle = "#1d2733"; ctx.fillText(row[1], lx + 30, y);
      });
      // date and source
      ctx.font = "12px sans-serif"; ctx.fillStyle = "#1d2733";
      ctx.fillText(t("imprimeLe") + today() + " — " + window.CARTE_SOURCE, margin, height - 16);
      return new Promise(function (resolve) { canvas.toBlob(resolve, "image/png"); });
    }).then(function (blob) {
      var name = "carte-" + state.indicator + "-" + state.millesime + ".png";
      download(blob, name);
      $("partager-etat").textContent = t("pngFait") + name;
    });
  }

  $("imprimer").addEventListener("click", function () { preparePrint(); setTimeout(function () { window.print(); }, 50); });
  $("png").addEventListener("click", function () {
    exportPng().catch(function (err) { $("partager-etat").textContent = String(err && err.message || err); });
  });

  // -- the view in the URL -----------------------------------------------------------------------
  // theme, indicator, millésime, scale, classes, position and selection live in the URL's
  // fragment (replaced as the view changes): a shared link reopens the same view.
  var SCALE_MODES = ["auto", "commune", "iris", "qpv", "residence"];

  function viewHash() {
    var c = map.getCenter();
    var q = new URLSearchParams();
    q.set("theme", state.theme); q.set("indicateur", state.indicator);
    q.set("millesime", String(state.millesime)); q.set("echelle", state.scaleMode);
    q.set("classes", state.method);
    if (state.fixed) { q.set("fixe", "oui"); }
    q.set("z", String(map.getZoom())); q.set("lat", c.lat.toFixed(5)); q.set("lon", c.lng.toFixed(5));
    if (state.selection.length) {
      q.set("sel", state.selection[0].scale + ":" + state.selection.map(function (s) { return s.code; }).join(","));
    }
    if (state.lang !== "fr") { q.set("langue", state.lang); }
    if (state.stationM) { q.set("station", String(state.stationM)); }
    if (state.since) { q.set("depuis", String(state.since)); }
    return "#" + q.toString();
  }

  function saveView() {
    if (!state.catalog || state.restoring) { return; }
    var hash = viewHash();
    if (window.location.hash !== hash) { history.replaceState(null, "", hash); }
  }

  function restoreView(catalog) {
    var q = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    var theme = catalog.themes.find(function (th) { return th.name === q.get("theme"); });
    if (theme) {
      state.theme = theme.name;
      state.indicator = theme.indicators[0].name;
      if (theme.indicators.some(function (i) { return i.name === q.get("indicateur"); })) { state.indicator = q.get("indicateur"); }
    }
    if (/^\d{4}$/.test(q.get("millesime") || "")) { state.millesime = Number(q.get("millesime")); }
    if (SCALE_MODES.indexOf(q.get("echelle")) >= 0) { state.scaleMode = q.get("echelle"); $("echelle").value = state.scaleMode; }
    if (q.get("classes") === "jenks" || q.get("classes") === "quantiles") { state.method = q.get("classes"); $("classes").value = state.method; }
    state.fixed = q.get("fixe") === "oui"; $("classes-fixes").checked = state.fixed;
    if (q.get("langue") === "en") { state.lang = "en"; }
    if (/^\d{4}$/.test(q.get("depuis") || "")) { state.since = Number(q.get("depuis")); }
    if (/^(300|500|800|1000)$/.test(q.get("station") || "")) { state.stationM = Number(q.get("station")); $("station").value = q.get("station"); }
    var sel = /^(commune|iris|qpv):([\w.,-]{1,4000})$/.exec(q.get("sel") || "");
    if (sel) {
      state.selection = sel[2].split(",").filter(Boolean).slice(0, 500).map(function (code) {
        return { scale: sel[1], code: code, name: code };
      });
    }
    var z = Number(q.get("z")), lat = Number(q.get("lat")), lon = Number(q.get("lon"));
    if (q.get("z") && isFinite(z) && isFinite(lat) && isFinite(lon) && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
      map.setView([lat, lon], Math.max(map.getMinZoom(), Math.min(map.getMaxZoom(), Math.round(z))), { animate: false });
    }
  }

  // A selection restored from a link knows only codes: names come from the drawn layer.
  function nameSelection(group, layer, scale) {
    var missing = state.selection.filter(function (s) { return s.scale === scale && s.name === s.code; });
    if (!missing.length) { return; }
    group.eachLayer(function (lay) {
      var p = lay.feature && lay.feature.properties;
      if (!p) { return; }
      missing.forEach(function (s) { if (String(p[layer.key_field]) === s.code && p.nom) { s.name = p.nom; } });
    });
    renderSelection();
  }

  // -- search ------------------------------------------------------------------------------------
  // One box for communes, IRIS, QPV and published résidences (/carte/api/recherche: published
  // views only). A combobox: arrows move in the list, Enter goes, Escape closes.
  var finder = { results: [], active: -1, timer: null, ctrl: null };

  function searchList(open) {
    $("recherche-liste").hidden = !open;
    $("recherche").setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) { $("recherche").removeAttribute("aria-activedescendant"); }
  }

  function renderResults() {
    var ul = $("recherche-liste");
    ul.innerHTML = "";
    finder.results.forEach(function (r, i) {
      var li = document.createElement("li");
      li.id = "recherche-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", i === finder.active ? "true" : "false");
      li.dataset.type = r.type; li.dataset.code = r.code;
      li.innerHTML = "<span class='type'>" + escapeHtml(t("types")[r.type] || r.type) + "</span> " +
        "<b>" + escapeHtml(r.label) + "</b> <small>" + escapeHtml(r.detail || "") +
        (r.type !== "residence" && r.type !== "commune" ? "" : " · " + escapeHtml(r.code)) + "</small>";
      li.addEventListener("mousedown", function (e) { e.preventDefault(); });
      li.addEventListener("click", function () { chooseResult(r); });
      ul.appendChild(li);
    });
    if (finder.active >= 0) {
      $("recherche").setAttribute("aria-activedescendant", "recherche-" + finder.active);
      var el = $("recherche-" + finder.active);
      if (el && el.scrollIntoView) { el.scrollIntoView({ block: "nearest" }); }
    } else {
      $("recherche").removeAttribute("aria-activedescendant");
    }
    searchList(finder.results.length > 0);
  }

  function runSearch() {
    var q = $("recherche").value.trim();
    if (finder.ctrl) { finder.ctrl.abort(); }
    if (q.length < 2) { finder.results = []; finder.active = -1; renderResults(); $("recherche-etat").textContent = ""; return; }
    finder.ctrl = new AbortController();
    var ours = fetch("/carte/api/recherche?q=" + encodeURIComponent(q) + "&millesime=" + encodeURIComponent(state.millesime || ""),
                     { credentials: "same-origin", signal: finder.ctrl.signal })
      .then(function (r) { return r.ok ? r.json() : { results: [] }; });
    Promise.all([ours, geocode(q, finder.ctrl.signal)])
      .then(function (answers) {
        var body = answers[0];
        finder.results = (body.results || []).concat(answers[1]);
        finder.active = finder.results.length ? 0 : -1;
        renderResults();
        $("recherche-etat").textContent = finder.results.length
          ? finder.results.length + t("nResultats") : t("aucunResultat");
        document.body.dataset.recherche = q;
      }).catch(function (err) { if (err.name !== "AbortError") { finder.results = []; renderResults(); } });
  }

  // Addresses from the Base Adresse Nationale API when PORTAIL_GEOCODEUR_URL is set (never by
  // default: no outside request); a street address, not a résidence: the map goes there.
  function geocode(q, signal) {
    var url = state.catalog && state.catalog.geocoder;
    if (!url || q.length < 4) { return Promise.resolve([]); }
    var c = map.getCenter();
    return fetch(url + "/search/?q=" + encodeURIComponent(q) + "&limit=5&lat=" + c.lat.toFixed(4) +
                 "&lon=" + c.lng.toFixed(4), { signal: signal, credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : { features: [] }; })
      .then(function (body) {
        return (body.features || []).filter(function (f) { return f.geometry && f.properties; }).map(function (f) {
          return { type: "adresse", code: String(f.properties.id || f.properties.label), label: f.properties.label,
                   detail: t("ban"), point: f.geometry.coordinates };
        });
      }).catch(function (err) { if (err.name === "AbortError") { throw err; } return []; });
  }

  function chooseResult(r) {
    searchList(false);
    $("recherche").value = r.label;
    if (r.type === "adresse") {
      state.pendingOpen = null;
      map.setView([r.point[1], r.point[0]], 17);
      return;
    }
    state.pendingOpen = { scale: r.type, code: r.code };
    if (r.type === "residence") {
      state.scaleMode = "auto"; $("echelle").value = "auto";
      map.setView([r.point[1], r.point[0]], 17);
    } else {
      state.scaleMode = r.type; $("echelle").value = r.type;
      map.fitBounds([[r.bbox[1], r.bbox[0]], [r.bbox[3], r.bbox[2]]],
                    { maxZoom: r.type === "commune" ? 13 : 15 });
    }
    layers.mainUrl = null;
    refresh();
  }

  // After a search, the chosen territory's popup opens once its layer is drawn.
  function openPending(group, layer, scale) {
    var want = state.pendingOpen;
    if (!want || want.scale !== scale) { return; }
    group.eachLayer(function (lay) {
      var f = lay.feature;
      if (!f || String(f.properties[layer.key_field]) !== String(want.code)) { return; }
      state.pendingOpen = null;
      var where = lay.getLatLng ? lay.getLatLng() : lay.getBounds().getCenter();
      if (lay.setStyle && !lay.getLatLng) { lay.setStyle({ weight: 3, color: "#004f8c" }); }
      openPopup(f, lay, layer, scale, where);
    });
  }

  $("recherche").addEventListener("input", function () {
    clearTimeout(finder.timer);
    finder.timer = setTimeout(runSearch, 200);
  });
  $("recherche").addEventListener("keydown", function (e) {
    var n = finder.results.length;
    if (e.key === "ArrowDown" && n) {
      e.preventDefault(); finder.active = (finder.active + 1) % n; renderResults();
    } else if (e.key === "ArrowUp" && n) {
      e.preventDefault(); finder.active = (finder.active - 1 + n) % n; renderResults();
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (finder.active >= 0 && finder.results[finder.active]) { chooseResult(finder.results[finder.active]); }
    } else if (e.key === "Escape") {
      searchList(false);
    }
  });
  $("recherche").addEventListener("blur", function () { searchList(false); });
  $("recherche").addEventListener("focus", function () { if (finder.results.length) { searchList(true); } });

  $("langue").addEventListener("click", function () { state.lang = state.lang === "fr" ? "en" : "fr"; applyLanguage(); });
  $("aide-bouton").addEventListener("click", function () { $("aide").showModal(); });
  function toggle(button, target, cls, open) {
    if (open === undefined) { open = button.getAttribute("aria-expanded") !== "true"; }
    button.setAttribute("aria-expanded", open ? "true" : "false");
    target.classList.toggle(cls, cls === "ouvert" ? open : !open);
    setTimeout(function () { map.invalidateSize(); }, 0);
  }
  $("choix-bouton").addEventListener("click", function () { toggle($("choix-bouton"), $("choix"), "ouvert"); });
  $("panneau-bouton").addEventListener("click", function () { toggle($("panneau-bouton"), $("panneau"), "replie"); });
  // On a phone the panel starts folded: the map takes the screen, the drawer opens on demand.
  if (window.matchMedia && window.matchMedia("(max-width: 720px)").matches) {
    toggle($("panneau-bouton"), $("panneau"), "replie", false);
  }
  labelControls();
  $("copier").addEventListener("click", function () {
    var input = $("url-api");
    input.select();
    if (navigator.clipboard) { navigator.clipboard.writeText(input.value).catch(function () {}); }
    $("copier").textContent = t("copie");
  });
  $("export").addEventListener("click", runExport);
  $("partager").addEventListener("click", function () {
    saveView();
    var done = function () { $("partager-etat").textContent = t("lienCopie"); };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(window.location.href).then(done, function () { $("partager-etat").textContent = window.location.href; });
    } else {
      $("partager-etat").textContent = window.location.href;
    }
  });
  $("vider").addEventListener("click", function () { state.selection = []; renderSelection(); });

  var inline = document.getElementById("catalogue");
  (inline ? Promise.resolve(JSON.parse(inline.textContent))
          : fetch("/carte/api/catalogue", { credentials: "same-origin" })
              .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); }))
    .then(start)
    .catch(function (err) { showNotice("Catalogue indisponible : " + err.message); });

  window.carte = { map: map, state: state, preparePrint: preparePrint };
})();
