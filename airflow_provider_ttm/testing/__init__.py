"""
Testing helpers for the provider's users: the ``ttm_emulator`` pytest fixture (auto-loaded through
the ``pytest11`` entry point) serves the bundled TTM API emulator and points ``ttm_default`` at it.
"""
