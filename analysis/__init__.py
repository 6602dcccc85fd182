"""Analyses that measure representations of models and recordings on one data model."""
__version__ = "0.1.0"
