"""A Vendzz-shaped reference service to rehearse the move on (see README.md beside this file)."""
