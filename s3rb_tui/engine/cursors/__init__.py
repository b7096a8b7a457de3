"""Cursor rules shared by the sources and the operations: the run's upper bound, cursor values
as a watermark keeps them, and the census of rows a watermark cannot see.
"""
