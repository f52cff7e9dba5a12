"""Plotting and verdict helpers of the chapters (plumbing kept out of the notebooks), one module per chapter."""
