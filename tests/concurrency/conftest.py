"""The race tests need a database server that runs concurrent transactions.

PostgreSQL (psycopg) or MariaDB/MySQL; on SQLite the module skips itself.
For MySQL URLs, PyMySQL stands in when mysqlclient cannot be installed.
"""

import os

if os.environ.get("DATABASE_URL", "").startswith("mysql"):
    try:  # mysqlclient is the driver Django prefers
        import MySQLdb  # noqa: F401
    except ImportError:  # pragma: no cover - only where mysqlclient cannot be built
        import pymysql

        pymysql.install_as_MySQLdb()
