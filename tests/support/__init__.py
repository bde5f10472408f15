"""What the tests share: builders of jobs and runners, workloads, digests, API examples, users.

Test modules import from here; fixtures that use these live in the ``conftest.py`` files.
"""
