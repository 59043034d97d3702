"""Qt desktop app: main window, stack and graph views, panels, undo commands."""

from explorer.gui.compat import guard_none_refcount

guard_none_refcount()
