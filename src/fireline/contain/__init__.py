"""Containment's functional core: decision policy, breakers, staged restoration, rollback.

Pure domain code (no I/O): the engine feeds it facts and observations and stores its
serialized state.
"""
