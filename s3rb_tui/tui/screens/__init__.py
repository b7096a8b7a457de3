"""The console's screens: one module per screen, plus dialogs and the help screen."""
