"""The officers' console: the page shell, its template and the static ES modules."""
