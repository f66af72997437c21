"""The ``df.aion`` accessor (registered on ``import aion_pandas``). Owned by the client work (issue 3)."""
