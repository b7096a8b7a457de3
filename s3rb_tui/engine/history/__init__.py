"""Run history: one record per run in the store (records), the collector that writes it while a
job runs (recorder), the alerts webhook (alerts) and the Prometheus textfile (metrics)."""
