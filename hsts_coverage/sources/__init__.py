"""Name sources: where the list of hosts to scan comes from (certificate transparency first)."""
