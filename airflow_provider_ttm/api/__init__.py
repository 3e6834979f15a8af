"""Everything this provider knows about the Tune The Model API, with no I/O.

Request descriptions and argument checks (``endpoints``), reply decoding and error mapping
(``replies``), typed records (``records``), statuses (``statuses``) and the retry policy
(``retry``). The sync and async transports of the hook share all of it.
"""
