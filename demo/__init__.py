"""Deterministic demo data: realistic Chongqing events with lifecycle histories, and a labelled
training set. Written for Sanji; no third-party text."""
