"""The race tests need a database server that runs concurrent transactions.

PostgreSQL (psycopg) or MariaDB/MySQL; on SQLite the module skips itself.
For MySQL URLs, ``tests/settings.py`` lets PyMySQL stand in when mysqlclient
is not installed.
"""
