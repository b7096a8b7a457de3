"""Operations: the jobs front ends run (backup, load, sync, clean, counts, watermark changes, health,
rebuild) and the steps only they use. Nothing below ``ops`` imports it.
"""
