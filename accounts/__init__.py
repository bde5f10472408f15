"""Users, tenants and roles: dtle's login (``POST /v2/login``), its tokens and who sees which job."""
