"""Registry: model versions, aliases, deployments, the validation gate, lineage."""
