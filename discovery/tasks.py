"""Worker side of discovery: large uploads are imported here (thin: one service call)."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def metadata_import_run(snapshot_id: int) -> str:
    snapshot = services.queued_import_run(snapshot_id=snapshot_id)
    return snapshot.status if snapshot else "missing"
