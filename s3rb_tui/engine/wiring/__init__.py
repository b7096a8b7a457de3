"""Wiring: settings turned into open parts (the workspace, SSH tunnels, the extraction path) and the
choice of tables. The operations take a ``Workspace``; front ends build one.
"""
