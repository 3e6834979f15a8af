"""End-to-end tests: a real Airflow deployment (PostgreSQL, api-server, scheduler, triggerer)."""
