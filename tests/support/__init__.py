"""Real local servers and databases for the tests: an HTTP site, an SMTP server, SQLite and PostgreSQL."""
