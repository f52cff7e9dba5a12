"""Plumbing for the chapters' pages: figures, tables and verdicts computed from results."""
