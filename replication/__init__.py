"""The data plane: plain Python, no Django, DRF or Celery."""
