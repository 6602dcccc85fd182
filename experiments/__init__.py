"""Scripted reproductions of the papers' experiments."""
