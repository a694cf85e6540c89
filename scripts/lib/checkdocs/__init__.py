"""The checks of scripts/check-docs.py, one module per kind of file:
world (what the built programs say about themselves), markdown (settings
and flags named in prose and commands), compose (docker-compose.yml),
dockerfile (compose/Dockerfile), references (docs/configuration.md and
docs/metrics.md) and selftest (each checker fed wrong input)."""
