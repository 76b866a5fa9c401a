"""A user model with a UUID primary key, for ``tests/test_uuid_user.py``."""
