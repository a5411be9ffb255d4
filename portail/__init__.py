"""Portail cartographique des logements locatifs sociaux de la MEL: the server package."""
