"""Entry points: the ``lockerbridge`` command, the web server, workers and tools."""
