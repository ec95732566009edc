"""Early warnings: rules over scoring runs, alerts with a lifecycle, signed webhooks."""
