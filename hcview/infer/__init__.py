"""See the modules; nothing is imported eagerly (torch-heavy)."""
