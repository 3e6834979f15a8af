"""Browser tests: Airflow's own UI (api-server) driven by Playwright in Debian's headless Chromium."""
