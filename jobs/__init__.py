"""The control plane: the job store, the /v2 API, the scheduler and the Celery tasks."""
