"""lab2prod."""
