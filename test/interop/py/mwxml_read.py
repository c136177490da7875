#!/usr/bin/env python3
"""Reads a MediaWiki XML dump with mwxml, the consumer Wikimedia's own tools use, and prints it
as canonical JSON lines: one "siteinfo" line, then per page a "page" line followed by one
"revision" line per revision, and a closing "done" line with counts.

Usage: mwxml_read.py DUMP        (plain XML, .bz2 or .gz by file name; '-' reads plain XML on stdin)
Exit status: 0 parsed, 1 mwxml rejected the document (the error is printed on stderr and as a
final {"kind": "error"} line), 64 usage.

What mwxml 0.3.8 exposes, and so what the lines carry (see README.md for its limits):
- revision ids, page ids and byte counts are JSON numbers (all far below 2^53);
- "ip" is userText when the contributor had no user id (mwxml folds <ip> into the user's text);
- "slots" maps each content role to its fields; the main slot comes from <text> (plus the
  revision's <model>/<format>), other roles from MCR <content> elements;
- the revision-level <origin> is parsed but dropped by mwxml, so only non-main slots carry one.
"""

from __future__ import annotations

import bz2
import gzip
import sys
import time
from typing import IO, Any

from mwinterop.env import claim_stdout


def open_dump(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    if path.endswith(".bz2"):
        return bz2.open(path, "rb")
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _content(content: Any) -> dict[str, Any]:
    return {
        "role": content.role,
        "origin": getattr(content, "origin", None),
        "model": content.model,
        "format": content.format,
        "text": content.text,
        "bytes": content.bytes,
        "sha1": content.sha1,
        "deleted": bool(content.deleted),
        "location": getattr(content, "location", None),
        "textId": getattr(content, "id", None),
    }


def _siteinfo(site_info: Any) -> dict[str, Any]:
    namespaces = None
    if site_info.namespaces is not None:
        namespaces = [{"id": ns.id, "name": ns.name, "case": ns.case, "canonical": getattr(ns, "canonical", None)} for ns in site_info.namespaces]
    return {
        "kind": "siteinfo",
        "name": site_info.name,
        "dbname": site_info.dbname,
        "base": site_info.base,
        "generator": site_info.generator,
        "case": site_info.case,
        "namespaces": namespaces,
    }


def _revision(page_id: int, revision: Any) -> dict[str, Any]:
    contents = revision.slots.contents if revision.slots is not None else {}
    main = contents.get("main")
    user = revision.user
    deleted = revision.deleted
    user_id = None if user is None else user.id
    user_text = None if user is None else user.text
    return {
        "kind": "revision",
        "pageId": page_id,
        "id": revision.id,
        "parentId": revision.parent_id,
        "timestamp": None if revision.timestamp is None else revision.timestamp.long_format(),
        "userId": user_id,
        "userText": user_text,
        "ip": user_text if user is not None and user_id is None else None,
        "minor": bool(revision.minor),
        "comment": revision.comment,
        "sha1": None if revision.slots is None else revision.slots.sha1,
        # The main slot, flattened the way export-0.10 and earlier put it on the revision.
        "text": None if main is None else main.text,
        "bytes": None if main is None else main.bytes,
        "textSha1": None if main is None else main.sha1,
        "model": None if main is None else main.model,
        "format": None if main is None else main.format,
        "deleted": {
            "text": bool(deleted.text) if deleted else False,
            "comment": bool(deleted.comment) if deleted else False,
            "user": bool(deleted.user) if deleted else False,
            "restricted": bool(deleted.restricted) if deleted and deleted.restricted is not None else False,
        },
        "slots": {role: _content(c) for role, c in contents.items()},
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 64
    out = claim_stdout()

    import mwxml

    from mwinterop.canonical import dumps

    started = time.monotonic()
    pages = revisions = 0
    try:
        with open_dump(argv[0]) as handle:
            dump = mwxml.Dump.from_file(handle)
            out.write(dumps(_siteinfo(dump.site_info)) + "\n")
            for page in dump.pages:
                pages += 1
                out.write(
                    dumps(
                        {
                            "kind": "page",
                            "id": page.id,
                            "namespace": page.namespace,
                            "title": page.title,
                            "redirect": page.redirect,
                            "restrictions": list(page.restrictions or []),
                        }
                    )
                    + "\n"
                )
                for revision in page:
                    revisions += 1
                    out.write(dumps(_revision(page.id, revision)) + "\n")
    except Exception as error:  # mwxml raises MalformedXML, ParseError, AssertionError, ...
        import traceback

        traceback.print_exc(file=sys.stderr)
        out.write(dumps({"kind": "error", "type": type(error).__name__, "message": str(error)[:2000], "pages": pages, "revisions": revisions}) + "\n")
        return 1
    out.write(dumps({"kind": "done", "pages": pages, "revisions": revisions, "elapsedMs": round((time.monotonic() - started) * 1000)}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
