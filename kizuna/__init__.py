"""The `kizuna` command: run the embedded stack, replay datasets, manage the install."""
