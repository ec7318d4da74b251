"""The demo: accounts, the deterministic seed, and the simulated device feed."""
