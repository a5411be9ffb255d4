"""The login gate in front of pygeoapi and the account register."""
