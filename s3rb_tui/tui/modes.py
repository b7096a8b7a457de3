"""The console's screens (modes) and its state-changing actions: names only, no widgets, so the
app, the palette and the nav bar read them without importing each other."""

from __future__ import annotations

#: actions that change state somewhere (store, watermark, warehouse); hidden with --readonly
DESTRUCTIVE_ACTIONS = frozenset(
    {"backup", "sync", "load_only", "dry_run", "watermark_wizard", "set_count", "clean", "cancel_job", "toggle_traffic",
     "repair"}
)

SCREEN_KEYS = (
    ("1", "dashboard", "Dashboard"),
    ("2", "tables", "Tables"),
    ("3", "watermarks", "Watermarks"),
    ("4", "files", "Files"),
    ("5", "jobs", "Jobs"),
    ("6", "config", "Config"),
    ("7", "history", "History"),
)


#: mode -> (module, class); imported when the operator first opens the screen
SCREEN_CLASSES = {
    "dashboard": ("s3rb_tui.tui.screens.dashboard", "DashboardScreen"),
    "tables": ("s3rb_tui.tui.screens.tables", "TablesScreen"),
    "watermarks": ("s3rb_tui.tui.screens.watermarks", "WatermarksScreen"),
    "files": ("s3rb_tui.tui.screens.files", "FilesScreen"),
    "jobs": ("s3rb_tui.tui.screens.jobs", "JobsScreen"),
    "config": ("s3rb_tui.tui.screens.config", "ConfigScreen"),
    "history": ("s3rb_tui.tui.screens.history", "HistoryScreen"),
}
