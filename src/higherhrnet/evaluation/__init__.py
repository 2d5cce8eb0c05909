"""Evaluation and reports: COCOeval, metrics tables, predictions, drawings, report pieces."""
