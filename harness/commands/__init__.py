"""CLI command modules. Each imports only typer and the standard library at module level;
heavy work is imported inside the command functions so ``harness --help`` stays instant."""
