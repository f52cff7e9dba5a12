"""maxentrl: the companion package of *Maximum-Entropy Reinforcement Learning, executably*.

One module per concept of the book; the chapters import what they show.
"""

__version__ = "0.1.0"
