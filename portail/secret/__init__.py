"""Statistical secrecy: the differencing attack, the suppressor and the auditor."""
