"""Qt desktop app: main window, stack and graph views, panels, undo commands."""
