"""Operator tooling: execution timelines, redrive, cross-system user lookup."""
