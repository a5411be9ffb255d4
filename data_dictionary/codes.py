"""Code lists of the data dictionary for what documents show in words: BPE facility
types (``typequ``) and transport modes, in French.

A document (fiche, map) writes a name, not a code: « Médecin généraliste », not
« D201 »; « métro », not « metro ». A facility type missing from this list is written
with its domain and its code (« Enseignement (C999) »): never a guess.
"""
from __future__ import annotations

from data_dictionary.model import BPE_DOMAINS

# INSEE BPE facility types (the ones of the MEL's usual files); domain letter + 3 digits.
BPE_TYPES = {
    "A101": "Police", "A104": "Gendarmerie", "A105": "Cour d'appel",
    "A106": "Tribunal judiciaire", "A107": "Conseil de prud'hommes",
    "A108": "Tribunal de commerce", "A124": "Maison de justice et du droit",
    "A125": "Antenne de justice", "A129": "Mairie",
    "A203": "Banque, caisse d'épargne", "A205": "Services funéraires",
    "A206": "Bureau de poste", "A207": "Relais poste", "A208": "Agence postale",
    "A301": "Réparation automobile et de matériel agricole",
    "A302": "Contrôle technique automobile",
    "A303": "Location d'automobiles et d'utilitaires légers", "A304": "École de conduite",
    "A401": "Maçon", "A402": "Plâtrier, peintre", "A403": "Menuisier, charpentier, serrurier",
    "A404": "Plombier, couvreur, chauffagiste", "A405": "Électricien",
    "A406": "Entreprise générale du bâtiment",
    "A501": "Coiffure", "A502": "Vétérinaire", "A503": "Agence de travail temporaire",
    "A504": "Restaurant, restauration rapide", "A505": "Agence immobilière",
    "A506": "Pressing, laverie automatique", "A507": "Institut de beauté, onglerie",
    "B201": "Supérette", "B202": "Épicerie", "B203": "Boulangerie",
    "B204": "Boucherie, charcuterie", "B205": "Produits surgelés", "B206": "Poissonnerie",
    "B316": "Station-service",
    "C101": "École maternelle", "C102": "École maternelle de regroupement pédagogique",
    "C104": "École élémentaire", "C105": "École élémentaire de regroupement pédagogique",
    "C201": "Collège", "C301": "Lycée d'enseignement général et technologique",
    "C302": "Lycée d'enseignement professionnel",
    "C303": "Lycée technique et professionnel agricole",
    "C601": "Centre de formation d'apprentis", "C602": "GRETA",
    "C701": "Résidence universitaire", "C702": "Restaurant universitaire",
    "D106": "Urgences", "D107": "Maternité", "D108": "Centre de santé",
    "D113": "Maison de santé pluriprofessionnelle",
    "D201": "Médecin généraliste", "D221": "Chirurgien-dentiste", "D231": "Sage-femme",
    "D232": "Infirmier", "D233": "Masseur-kinésithérapeute", "D235": "Orthophoniste",
    "D236": "Orthoptiste", "D237": "Pédicure-podologue", "D238": "Audioprothésiste",
    "D239": "Ergothérapeute", "D240": "Psychomotricien", "D242": "Diététicien",
    "D243": "Psychologue",
    "D301": "Pharmacie", "D302": "Laboratoire d'analyses et de biologie médicales",
    "D303": "Ambulance",
    "D502": "Établissement d'accueil du jeune enfant",
    "E101": "Taxi, VTC", "E102": "Aéroport",
    "E107": "Gare de voyageurs d'intérêt national",
    "E108": "Gare de voyageurs d'intérêt régional", "E109": "Gare de voyageurs d'intérêt local",
    "F101": "Bassin de natation", "F102": "Boulodrome", "F103": "Tennis",
    "F104": "Équipement de cyclisme", "F106": "Centre équestre", "F107": "Athlétisme",
    "F108": "Terrain de golf", "F109": "Parcours sportif, santé", "F110": "Sports de glace",
    "F111": "Plateaux et terrains de jeux extérieurs", "F112": "Salle spécialisée",
    "F113": "Terrain de grands jeux", "F114": "Salle de combat",
    "F116": "Salle non spécialisée", "F120": "Salle de remise en forme",
    "F121": "Salle multisports (gymnase)",
    "F301": "Cinéma", "F302": "Musée", "F303": "Conservatoire",
    "F304": "Théâtre, arts de rue, pôle cirque",
    "G101": "Agence de voyages", "G102": "Hôtel", "G103": "Camping",
    "G104": "Information touristique",
}

# Transport modes of the stops (``arrets_transport.mode``), as a sentence writes them.
TRANSPORT_MODES = {"metro": "métro", "tram": "tramway", "bus": "bus", "autre": "autre mode"}


def equipment_label(typequ: str | None) -> str:
    """« Médecin généraliste » for D201; « Enseignement (C999) » for an unlisted type."""
    code = (typequ or "").strip().upper()
    if code in BPE_TYPES:
        return BPE_TYPES[code]
    domain = BPE_DOMAINS.get(code[:1])
    return f"{domain['fr']} ({code})" if domain else (code or "type inconnu")


def mode_label(mode: str | None) -> str:
    """« métro » for metro; an unknown mode as it is."""
    return TRANSPORT_MODES.get((mode or "").strip().lower(), mode or "mode inconnu")
