"""OpenMetrics exposition (prometheus_client.openmetrics's layout)."""
