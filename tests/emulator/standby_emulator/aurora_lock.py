"""The one lock of the database world (aurora_db, aurora_volumes): model state and server DDL."""

import threading

LOCK = threading.RLock()
