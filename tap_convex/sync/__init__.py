"""The sync: snapshot walks, then one change-log walk, for all selected streams together.

* :mod:`.tables`: the selected streams, their bookmarks, and how a page's records and the
  bookmarks covering them are written (records first).
* :mod:`.snapshot_walk`: one ``list_snapshot`` walk at one pinned timestamp for a group of
  tables; it returns the change-log positions it hands over.
* :mod:`.changelog_walk`: one ``document_deltas`` walk for every selected table.
* :mod:`.data_sync_walk`: with ``transport: data_sync``, the whole sync as one walk of the
  Data Sync API (beta), with one cursor.
* :mod:`.coordinator`: runs them in order.
"""

from tap_convex.sync.coordinator import SyncOptions, run_sync

__all__ = ["SyncOptions", "run_sync"]
