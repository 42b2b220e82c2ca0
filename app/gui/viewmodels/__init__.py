"""View-models: QObjects that hold UI state, call services through workers and signal changes."""
