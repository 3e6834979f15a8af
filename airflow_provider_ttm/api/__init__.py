"""Everything this provider knows about the Tune The Model API: pure, with no I/O and no Airflow.

Request descriptions and argument checks (``endpoints``, ``files``, ``training``, ``inference``,
``datasets``), reply decoding and error mapping (``replies``, ``redaction``), typed records
(``records``, ``parsing``), statuses (``statuses``), the errors (``errors``, plain exceptions), the
retry policy (``retry``) and the meaning of a status reading during a wait (``waiting``). It imports
only the standard library: ruff's TID251 (``api/ruff.toml``) refuses ``airflow``, ``pendulum``,
``requests`` and ``httpx`` here, and a unit test imports every module with them absent. The hook's
sync and async transports, the operators and the triggers share all of it.
"""
