from __future__ import annotations

from vendzz_migrate.cli import main

if __name__ == "__main__":
    main()
