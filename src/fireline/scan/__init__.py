"""Content scanners: what is wrong inside the calls themselves (personal data, leaks,
injections, hallucinated citations, refusals, claims the brand must never make)."""
