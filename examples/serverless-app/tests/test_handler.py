"""Left out of the package by package.patterns."""
