"""S3 conditional writes are atomic.

AWS S3 User Guide, "Add preconditions to S3 operations with conditional
requests": PutObject with `If-None-Match: *` succeeds only when no object has
the key, PutObject / DeleteObject with `If-Match: <ETag>` only when the
current object has that ETag; otherwise 412 PreconditionFailed, and of
concurrent conditional writes to one key exactly one succeeds (the others get
412, or 409 ConditionalRequestConflict). moto 5.2.5 checks the condition and
then writes, without a lock, in a threaded server: two concurrent
`If-None-Match: *` puts can both succeed, which would let two runs hold a
state lock at once. This serialises conditional PutObject / DeleteObject
(check and write together); unconditional requests are untouched.
"""

import threading

from moto.s3.responses import S3Response

LOCK = threading.Lock()


def _conditional(headers) -> bool:
    return bool(headers.get("If-Match") or headers.get("If-None-Match"))


def fix_atomic_conditional_writes() -> None:
    put_original = S3Response.put_object
    delete_original = S3Response.delete_object

    def put_object(self, *args, **kwargs):
        if not _conditional(self.headers):
            return put_original(self, *args, **kwargs)
        with LOCK:
            return put_original(self, *args, **kwargs)

    def delete_object(self, *args, **kwargs):
        if not _conditional(self.headers):
            return delete_original(self, *args, **kwargs)
        with LOCK:
            return delete_original(self, *args, **kwargs)

    S3Response.put_object = put_object
    S3Response.delete_object = delete_object


def apply() -> None:
    fix_atomic_conditional_writes()
