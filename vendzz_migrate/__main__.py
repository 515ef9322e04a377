from __future__ import annotations

from vendzz_migrate.cli import main

main()
