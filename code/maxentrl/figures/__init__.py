"""Plot and table helpers of the chapters (one module per chapter); the chapters call them from hidden cells."""
