"""Call protocols: one module each."""
