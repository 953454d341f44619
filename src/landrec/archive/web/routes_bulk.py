"""One action on many files: correct their context, clear their corrections or index them
again, for a list of ids or every file matching the list's filters, in one transaction."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request

from landrec.archive.db import queries, writes
from landrec.archive.web.deps import ClassesDep, EditorDep, SessionDep, ViewsDep
from landrec.archive.web.errors import responses
from landrec.archive.web.routes_files import check_context, search_filter
from landrec.archive.web.schemas import BulkIn, BulkOut

router = APIRouter(prefix="/api")


@router.post("/files/bulk", responses=responses(422))
def bulk(
    body: BulkIn,
    who: EditorDep,
    session: SessionDep,
    classes: ClassesDep,
    views: ViewsDep,
    request: Request,
) -> BulkOut:
    """`correct` (to `context`: the model's own label clears the correction), `clear` (back
    to the model's label) or `reindex` (indexed anew by the current model) the files of `ids`
    (at most 10,000) or every file matching `filter` (GET /api/files' filter keys); audited.
    `matched`: the files named, `changed`: those the action changed."""
    context = None if body.context is None else check_context(body.context, classes)
    if body.filter is not None:
        ids = queries.matching_ids(session, search_filter(body.filter, "body", views))
    else:
        ids = body.ids or []
    matched, changed = writes.bulk(session, body.action, ids, who.name, context)
    wake: Callable[[], object] | None = request.app.state.wake
    if body.action is writes.BulkAction.REINDEX and changed and wake is not None:
        wake()  # the indexing loop takes the pending files now, not at its next rescan
    return BulkOut(matched=matched, changed=changed)
