"""Type mapping: profiles of SQLite columns, the mapping file, and value conversions."""
